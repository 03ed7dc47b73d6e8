"""``copbot teams package``: a Teams app package valid against Microsoft's own schema."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.cli.teams import CHANNEL_ONLY, COMMANDS, MANIFEST_VERSION
from bot.model import ChannelKind, ChannelRef, Role
from tests.support.harness import ALEX, Harness

SCHEMA = Path(__file__).parent / "schema" / f"MicrosoftTeams.schema.v{MANIFEST_VERSION}.json"
APP_ID = "8f1d2c3b-4a5e-4f60-9a7b-1c2d3e4f5a6b"


def build(tmp_path: Path, *args: str, url: str = "https://copbot.example.org") -> zipfile.ZipFile:
    out = tmp_path / "copbot.zip"
    result = CliRunner().invoke(
        cli,
        ["teams", "package", "--app-id", APP_ID, "-o", str(out), *args],
        env={"COPBOT_PUBLIC_URL": url},
    )
    assert result.exit_code == 0, result.output
    return zipfile.ZipFile(out)


def test_the_manifest_is_valid_against_microsofts_schema(tmp_path: Path) -> None:
    manifest = json.loads(build(tmp_path).read("manifest.json"))
    schema = json.loads(SCHEMA.read_text())
    # Not check_schema: one pattern elsewhere in it (\p{L}) is beyond Python's re; the
    # parts this manifest uses compile.
    jsonschema.Draft4Validator(schema).validate(manifest)
    assert manifest["manifestVersion"] == MANIFEST_VERSION
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID == manifest["id"] == manifest["webApplicationInfo"]["id"]
    # No group chats: a prompt's thread, the archive and schedules need a team's channel.
    assert bot["scopes"] == ["team", "personal"]
    menus = {tuple(m["scopes"]): [c["title"] for c in m["commands"]] for m in bot["commandLists"]}
    assert "prompt" in menus[("team",)] and "prompt" not in menus[("personal",)]
    assert manifest["validDomains"] == ["copbot.example.org"]
    rsc = manifest["authorization"]["permissions"]["resourceSpecific"]
    assert {"name": "ChannelMessage.Read.Group", "type": "Application"} in rsc
    # Without it Teams offers an app in standard channels only, and copbot's private and
    # shared channels (search, exports, prompts there) would never be reached.
    assert manifest["supportedChannelTypes"] == ["privateChannels", "sharedChannels"]


def test_the_schema_catches_a_broken_manifest(tmp_path: Path) -> None:
    manifest = json.loads(build(tmp_path).read("manifest.json"))
    del manifest["bots"][0]["botId"]
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
    assert list(validator.iter_errors(manifest))


def _png(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, kind = struct.unpack(">IIBB", data[16:26])
    assert (depth, kind) == (8, 6)  # 8-bit RGBA
    idat = data.index(b"IDAT")
    length = struct.unpack(">I", data[idat - 4 : idat])[0]
    return width, height, zlib.decompress(data[idat + 4 : idat + 4 + length])


def test_the_icons_are_the_sizes_teams_wants(tmp_path: Path) -> None:
    package = build(tmp_path)
    width, height, color = _png(package.read("color.png"))
    assert (width, height) == (192, 192)
    assert all(color[r * (192 * 4 + 1) + 4 :][:1] == b"\xff" for r in range(192))  # opaque
    width, height, outline = _png(package.read("outline.png"))
    assert (width, height) == (32, 32)
    pixels = [
        outline[r * 129 + 1 + c * 4 : r * 129 + 5 + c * 4] for r in range(32) for c in range(32)
    ]
    alphas = {p[3] for p in pixels}
    assert alphas == {0, 255}  # transparent background, solid outline
    assert {p[:3] for p in pixels if p[3]} == {b"\xff\xff\xff"}  # white only


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "x.zip")
    result = runner.invoke(cli, ["teams", "package", "--app-id", "nope", "-o", out])
    assert result.exit_code != 0 and "GUID" in result.output
    result = runner.invoke(
        cli,
        ["teams", "package", "--app-id", APP_ID, "-o", out],
        env={"COPBOT_PUBLIC_URL": "http://insecure.example.org"},
    )
    assert result.exit_code != 0 and "https://" in result.output


def test_the_links_are_copbots_own_pages_unless_the_organisation_gives_its_own(
    tmp_path: Path,
) -> None:
    manifest = json.loads(build(tmp_path).read("manifest.json"))
    assert manifest["developer"]["privacyUrl"] == "https://copbot.example.org/privacy"
    assert manifest["developer"]["termsOfUseUrl"] == "https://copbot.example.org/terms"
    assert manifest["version"] == "1.0.0"
    trust = "https://www.example-trust.nhs.uk/privacy-notice"
    given = build(tmp_path, "--privacy-url", trust, "--version", "1.2.0")
    manifest = json.loads(given.read("manifest.json"))
    assert manifest["developer"]["privacyUrl"] == trust
    assert manifest["developer"]["termsOfUseUrl"] == "https://copbot.example.org/terms"
    assert manifest["version"] == "1.2.0"
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(manifest)


def test_a_package_that_cannot_be_written_or_a_bad_detail_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"COPBOT_PUBLIC_URL": "https://copbot.example.org"}
    base = ["teams", "package", "--app-id", APP_ID]
    cases = [
        (["-o", str(tmp_path / "no" / "such" / "x.zip")], "can't write"),
        (["-o", str(tmp_path / "x.zip"), "--version", "1.0"], "three numbers like 1.0.1"),
        (["-o", str(tmp_path / "x.zip"), "--terms-url", "http://x.org"], "--terms-url must"),
    ]
    for args, said in cases:
        result = runner.invoke(cli, [*base, *args], env=env)
        assert result.exit_code == 1 and said in result.output, result.output
        assert "Traceback" not in result.output and not (tmp_path / "x.zip").exists()


async def test_every_listed_command_is_a_copbot_verb(bot: Harness) -> None:
    verbs = {v.name.split()[0] for v in bot.core.registry.commands.available_to(Role.ADMIN)}
    for title, _ in COMMANDS:
        assert title in verbs, title


async def test_every_command_in_the_personal_menu_works_in_a_direct_chat(bot: Harness) -> None:
    chat = ChannelRef("test", "D-alex", "T1", "", ChannelKind.DIRECT)
    for title, _ in COMMANDS:
        if title in CHANNEL_ONLY:
            continue
        answer = await bot.reply_text(title, ALEX, channel=chat)
        assert "run this in" not in answer.lower() and "in a channel" not in answer, title
    # And what is left out is left out for that reason.
    for title in CHANNEL_ONLY:
        assert "channel" in await bot.reply_text(title, ALEX, channel=chat)


def test_a_package_that_cannot_be_written_whole_is_not_left_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    out = tmp_path / "copbot.zip"

    def fills_the_disk(self: Path, data: bytes) -> int:
        with open(self, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", fills_the_disk)
    result = CliRunner().invoke(
        cli,
        ["teams", "package", "--app-id", APP_ID, "-o", str(out)],
        env={"COPBOT_PUBLIC_URL": "https://copbot.example.org"},
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: can't write {out}: No space left on device"
    assert not out.exists()
