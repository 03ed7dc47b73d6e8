"""copbot against Microsoft's own Teams emulator, the Microsoft 365 Agents Playground.

The playground sends real Teams activities to ``copbot serve`` and is the Bot Framework
connector copbot answers through; it validates every request copbot makes (cards included)
and records both directions, with status codes. From that recording this test asserts that
every request copbot sent was accepted, and from ``copbot export`` that the reply was kept:

1. copbot is installed in the playground's team;
2. ``@copbot help`` in General (answered in the person's 1:1 chat: Teams has no private
   messages in channels);
3. the admin (``COPBOT_ADMINS=teams:<their aad id>``) writes ``@copbot prompt`` -> a new
   conversation in General, a card with buttons;
4. a colleague replies in the prompt's thread (delivered as Teams delivers it to an app with
   ``ChannelMessage.Read.Group``: the playground itself delivers only mentions) -> archived;
5. ``help`` in the 1:1 chat.

The playground is installed with npm into a cache outside the repository on first use
(``COPBOT_AGENTS_PLAYGROUND_DIR`` to choose where). By hand: docs/teams.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.server import copbot_command, free_port

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

VERSION = "0.2.28"
PACKAGE = f"@microsoft/m365agentsplayground@{VERSION}"
TO_COPBOT = "Microsoft 365 Agents Playground -> User Application"
FROM_COPBOT = "User Application -> Microsoft 365 Agents Playground"

T = TypeVar("T")


def install_dir() -> Path:
    chosen = os.environ.get("COPBOT_AGENTS_PLAYGROUND_DIR")
    base = Path(chosen) if chosen else Path.home() / ".cache" / "copbot" / "agentsplayground"
    return base / VERSION


def playground_cli() -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed, so Microsoft 365 Agents Playground can't be")
    where = install_dir()
    cli = where / "node_modules" / ".bin" / "agentsplayground"
    if not cli.exists():
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(where), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm install {PACKAGE} failed:\n{done.stderr}"
    assert cli.exists()
    return cli


def until(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def call(url: str, body: Any = None, timeout: float = 20.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw.strip() else None
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            r.read()
    except urllib.error.HTTPError:
        return True  # up, if not pleased
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running(
    args: list[str], log: Path, env: dict[str, str], ready: Callable[[], bool]
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env}, cwd=log.parent, start_new_session=True,
        )  # fmt: skip
    try:
        until(lambda: process.poll() is not None or ready(), f"{args[0]} to start")
        assert process.poll() is None, f"{args[0]} stopped:\n{log.read_text()}"
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def recording(path: Path) -> list[dict[str, Any]]:
    """The playground's recording: JSON documents separated by lines of ``---``."""
    if not path.exists():
        return []
    docs, lines = [], []
    for line in [*path.read_text().splitlines(), "---"]:
        if line.strip() == "---":
            text = "\n".join(lines).strip()
            lines = []
            if text:
                with contextlib.suppress(ValueError):  # one being written as we read
                    docs.append(json.loads(text))
        else:
            lines.append(line)
    return docs


def export(db: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [*copbot_command(), "export", "--db", str(db), "--format", "jsonl"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_copbot_in_microsofts_agents_playground(tmp_path: Path) -> None:
    cli = playground_cli()
    port, pg_port = free_port(), free_port()
    pg = f"http://127.0.0.1:{pg_port}"
    record = tmp_path / "recording.txt"
    pg_env = {
        "M365_AGENTS_PLAYGROUND_RECORDING_FILE": str(record),
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(tmp_path / "playground-debug.log"),
        "TEAMSAPPTESTER_BROWSER": "none",  # else it opens a browser, and stops without one
    }
    pg_args = [
        str(cli), "-e", f"http://127.0.0.1:{port}/api/messages", "-c", "msteams",
        "--dt", "-p", str(pg_port), "--er",
    ]  # fmt: skip
    db = tmp_path / "copbot.db"
    with running(pg_args, tmp_path / "playground.log", pg_env, lambda: reachable(pg)):
        # Its mock tenant (testConfig answers at once; config waits for copbot).
        status, doc = call(f"{pg}/_internal/v1/testConfig")
        assert status == 200, doc
        tenant = doc["config"]
        me, bot = tenant["currentUser"], tenant["bot"]
        colleague = tenant["users"][0]
        team = tenant["teams"][0]
        general = team["id"]
        personal = tenant["personalChat"]["id"]
        env = {
            "PYTHONUNBUFFERED": "1",
            "COPBOT_TEAMS": "on",  # no MicrosoftAppId: unauthenticated, for local testing
            "COPBOT_TEAMS_TENANTS": tenant["tenantId"],
            "COPBOT_ADMINS": f"teams:{me['aadObjectId']}",
        }
        serve = [*copbot_command(), "serve", "--port", str(port), "--db", str(db)]
        copbot_log = tmp_path / "copbot.log"
        healthz = f"http://127.0.0.1:{port}/healthz"
        with running(serve, copbot_log, env, lambda: reachable(healthz)):
            status, doc = call(f"{pg}/_internal/v1/config", timeout=30)
            assert status == 200 and doc["config"]["tenantId"] == tenant["tenantId"]

            def sent(kind: str) -> list[dict[str, Any]]:
                return [
                    d
                    for d in recording(record)
                    if d.get("direction") == FROM_COPBOT and d.get("activityName") == kind
                ]

            def to(conversation: str) -> list[dict[str, Any]]:
                return [
                    d
                    for d in sent("message")
                    if f"/v3/conversations/{conversation}/" in d["request"]["url"]
                ]

            # 1. installed in the team: copbot learns its channels and says hello in General
            status, _ = call(f"{pg}/_debug/conversation/{general}/installation", {})
            assert status == 200
            hello = until(lambda: sent("createConversation"), "copbot's hello in General")
            assert hello[0]["request"]["body"]["channelData"]["channel"]["id"] == general

            mention = {"mentioned": {"id": bot["id"]}, "text": f"<at>{bot['name']}</at>"}

            def say(conversation: str, text: str, who: dict[str, Any], at: bool) -> None:
                body: dict[str, Any] = {"text": text, "textFormat": "plain"}
                body["from"] = {"id": who["id"]}
                if at:
                    body["text"] = f"<at>{bot['name']}</at> {text}"
                    body["mentions"] = [mention]
                path = urllib.parse.quote(conversation, safe="")
                status, doc = call(f"{pg}/_conversation/v1/conversations/{path}/messages", body)
                assert status == 200, doc

            # 2. @copbot help in General: answered in the admin's 1:1 chat
            say(general, "help", me, at=True)
            help_answers = until(lambda: to(personal), "the help, in the 1:1 chat")
            assert "what you can ask me to do" in json.dumps(help_answers[0]["request"]["body"])

            # 3. @copbot prompt: a new conversation in General with the prompt's card
            say(general, "prompt", me, at=True)

            def channel_posts() -> list[dict[str, Any]]:
                made = sent("createConversation")
                return [d for d in made if d["request"]["body"].get("isGroup")]

            posts = until(
                lambda: channel_posts()[1:],
                "the prompt, as a new conversation in General",
            )
            prompt = posts[0]
            assert prompt["request"]["body"]["channelData"]["channel"]["id"] == general
            card = prompt["request"]["body"]["activity"]["attachments"][0]
            assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
            thread = prompt["response"]["body"]["id"]  # general;messageid=<root>
            assert thread.startswith(f"{general};messageid=")

            # 4. a colleague's reply in the prompt's thread, as Teams delivers it to an app
            # with ChannelMessage.Read.Group (no mention needed)
            path = urllib.parse.quote(thread, safe="")
            status, reply = call(
                f"{pg}/_internal/v1/customActivities/template?conversationId={path}"
            )
            assert status == 200, reply
            words = "Naming the feeling out loud helps me slow down with clients."
            reply |= {
                "type": "message",
                "id": "1796000000123",
                "text": f"<p>{words}</p>",
                "textFormat": "xml",
                "from": {
                    "id": colleague["id"],
                    "name": colleague["name"],
                    "aadObjectId": colleague["aadObjectId"],
                },
                "channelData": {
                    "tenant": {"id": tenant["tenantId"]},
                    "team": {"id": general},
                    "channel": {"id": general},
                },
            }
            status, _ = call(f"{pg}/_internal/v1/customActivities", reply)
            assert status == 200

            kept = until(
                lambda: [r for r in export(db) if r["text"] == words],
                "the reply in the archive",
            )
            assert kept[0]["author_id"] == f"teams:{colleague['aadObjectId']}"

            # 5. help in the 1:1 chat, without a mention
            before = len(to(personal))
            say(personal, "help", me, at=False)
            until(lambda: len(to(personal)) > before, "the help in the 1:1 chat")

            # The emulator accepted every request copbot made: activities and cards alike.
            docs = recording(record)
            from_copbot = [d for d in docs if d.get("direction") == FROM_COPBOT]
            refused = [
                (d.get("activityName"), d["request"].get("url"), d["response"]["statusCode"],
                 d["response"].get("body"))
                for d in from_copbot
                if not 200 <= int(d["response"]["statusCode"]) < 300
            ]  # fmt: skip
            assert refused == []
            assert len(from_copbot) >= 5
            # And copbot accepted every activity the emulator sent.
            to_copbot = [d for d in docs if d.get("direction") == TO_COPBOT]
            assert {d["response"]["statusCode"] for d in to_copbot} == {200}
            assert len(to_copbot) >= 6
        assert "Traceback" not in copbot_log.read_text()
