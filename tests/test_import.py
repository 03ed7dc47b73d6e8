"""Importing a Slack export into the archive: threads intact, noise skipped, idempotent."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import zipfile
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from adapters.slack import history
from adapters.slack.history import WORKER_THRESHOLD, ExportError, SlackExport
from bot.archive_export import FIELDS
from bot.cli import cli
from bot.records import ArchiveFilter
from storage.archive_reader import SqliteArchiveReader

CHANNELS = [{"id": "C1", "name": "ips-north"}, {"id": "C2", "name": "general"}]
USERS = [
    {
        "id": "U1",
        "team_id": "T9",
        "name": "ade",
        "profile": {"display_name": "Ade", "real_name": "Ade Bello"},
    },
    {
        "id": "U2",
        "team_id": "T9",
        "name": "sam",
        "real_name": "Sam Okafor",
        "profile": {"display_name": ""},
    },
]
NORTH_DAY = [
    {
        "type": "message",
        "user": "U1",
        "text": "Shall we talk about <@U2>'s idea &amp; more?",
        "ts": "1700000000.000100",
        "thread_ts": "1700000000.000100",
        "reply_count": 2,
    },
    {
        "type": "message",
        "user": "U2",
        "text": "Yes, see <#C2|general>",
        "ts": "1700000001.000200",
        "thread_ts": "1700000000.000100",
        "edited": {"user": "U2", "ts": "1700000050.000000"},
    },
    {
        "type": "message",
        "subtype": "thread_broadcast",
        "user": "U1",
        "text": "Also shared to the channel",
        "ts": "1700000002.000300",
        "thread_ts": "1700000000.000100",
    },
    {
        "type": "message",
        "subtype": "channel_join",
        "user": "U2",
        "text": "<@U2> has joined the channel",
        "ts": "1700000003.000400",
    },
    {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B1",
        "text": "I am a bot",
        "ts": "1700000004.000500",
    },
    {
        "type": "message",
        "subtype": "tombstone",
        "user": "USLACKBOT",
        "text": "This message was deleted.",
        "ts": "1700000005.000600",
    },
]
GENERAL_DAY = [{"type": "message", "user": "U2", "text": "Morning all", "ts": "1700086400.000100"}]


def write_export(root: Path) -> Path:
    (root / "ips-north").mkdir(parents=True)
    (root / "general").mkdir()
    (root / "channels.json").write_text(json.dumps(CHANNELS))
    (root / "users.json").write_text(json.dumps(USERS))
    (root / "ips-north" / "2023-11-14.json").write_text(json.dumps(NORTH_DAY))
    (root / "general" / "2023-11-15.json").write_text(json.dumps(GENERAL_DAY))
    return root


def zipped(folder: Path) -> Path:
    path = folder.with_suffix(".zip")
    with zipfile.ZipFile(path, "w") as z:
        for file in folder.rglob("*.json"):
            z.write(file, file.relative_to(folder).as_posix())
    return path


def archived(db: Path) -> list[dict]:
    reader = SqliteArchiveReader(db)
    return [dict(zip(FIELDS, r, strict=True)) for r in reader.rows(ArchiveFilter(), by_thread=True)]


@pytest.mark.parametrize("as_zip", [False, True])
def test_an_export_is_imported_with_threads_intact_and_only_once(
    tmp_path: Path, db_path: Path, as_zip: bool
) -> None:
    export = write_export(tmp_path / "export")
    path = zipped(export) if as_zip else export
    runner = CliRunner()
    first = runner.invoke(cli, ["import", "slack-export", str(path), "--db", str(db_path)])
    assert first.exit_code == 0, first.output
    assert first.output.strip() == "Read 4 message(s): 4 added to the archive, 0 already there."
    again = runner.invoke(cli, ["import", "slack-export", str(path), "--db", str(db_path)])
    assert again.output.strip() == "Read 4 message(s): 0 added to the archive, 4 already there."
    rows = archived(db_path)
    assert [r["text"] for r in rows] == [
        "Shall we talk about @Sam Okafor's idea & more?",
        "Yes, see #general",
        "Also shared to the channel",
        "Morning all",
    ]
    north = [r for r in rows if r["channel_id"] == "C1"]
    assert {r["thread_id"] for r in north} == {"1700000000.000100"}
    assert north[1]["edited_at"] == "2023-11-14T22:14:10.000000Z"
    assert north[0]["author_id"] == "slack:U1" and north[0]["author_name"] == "Ade"
    assert north[0]["region"] == "north" and north[0]["channel_name"] == "ips-north"
    assert north[0]["created_at"] == "2023-11-14T22:13:20.000100Z"


def test_people_who_opted_out_are_not_imported(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    runner = CliRunner()
    runner.invoke(cli, ["db", "migrate", "--db", str(db_path)])
    runner.invoke(cli, ["erase", "--user", "slack:U2", "--db", str(db_path)])
    result = runner.invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert "2 skipped (their authors opted out)" in result.output
    assert {r["author_id"] for r in archived(db_path)} == {"slack:U1"}


def test_what_was_written_before_opting_back_in_is_counted_as_left_out(
    tmp_path: Path, db_path: Path
) -> None:
    from storage.archive import SqliteArchiveRepository
    from storage.database import Database

    export = write_export(tmp_path / "export")
    runner = CliRunner()
    runner.invoke(cli, ["db", "migrate", "--db", str(db_path)])
    runner.invoke(cli, ["erase", "--user", "slack:U2", "--db", str(db_path)])

    async def opt_in() -> None:
        db = Database.open(db_path)
        try:  # between Sam's two messages, a day apart
            await SqliteArchiveRepository(db).opt_in("slack:U2", datetime(2023, 11, 15, tzinfo=UTC))
        finally:
            db.close()

    asyncio.run(opt_in())
    result = runner.invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.output.strip() == (
        "Read 4 message(s): 3 added to the archive, 0 already there,"
        " 1 skipped (written before their authors opted back in)."
    )
    assert "Morning all" in [r["text"] for r in archived(db_path)]


def test_imported_history_is_searchable(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    runner = CliRunner()
    runner.invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    found = json.loads(
        runner.invoke(cli, ["search", "idea", "--format", "json", "--db", str(db_path)]).output
    )
    assert [h["author_name"] for h in found] == ["Ade"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: (p.mkdir(), p)[1], "has no channels.json: is it a Slack export?"),
        (lambda p: (p.write_text("hello"), p)[1], "is neither a folder nor a zip file"),
    ],
)
def test_something_that_is_not_an_export_is_one_clear_line(
    tmp_path: Path, db_path: Path, make, message: str
) -> None:
    path = make(tmp_path / "thing")
    result = CliRunner().invoke(cli, ["import", "slack-export", str(path), "--db", str(db_path)])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_broken_json_inside_an_export_names_the_file(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "general" / "2023-11-16.json").write_text("[{not json")
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "general/2023-11-16.json in the export isn't valid JSON" in result.output


def many_days(root: Path, days: int) -> Path:
    """An export with more day files than are read in-process: read by a worker process.
    Two messages a day (Ade's, then Sam's), one of Ade's with a control character."""
    write_export(root)
    start = 1_700_200_000
    for n in range(days):
        ts = start + n * 86_400
        day = [
            {"type": "message", "user": "U1", "text": f"day {n} \x07bell", "ts": f"{ts}.000100"},
            {"type": "message", "user": "U2", "text": f"reply {n}", "ts": f"{ts}.000200",
             "thread_ts": f"{ts}.000100"},
        ]  # fmt: skip
        name = time.strftime("%Y-%m-%d", time.gmtime(ts))
        (root / "general" / f"{name}.json").write_text(json.dumps(day))
    return root


def _where_and_how_many(messages: list) -> tuple[int, int]:
    return os.getpid(), len(messages)


def test_a_large_export_is_read_in_a_worker_process_batch_by_batch(tmp_path: Path) -> None:
    export = many_days(tmp_path / "export", WORKER_THRESHOLD)
    told: list[int] = []
    batches = list(SlackExport(export).batches(_where_and_how_many, 100, told.append))
    assert {pid for pid, _ in batches} != {os.getpid()}  # the work ran in the worker
    sizes = [n for _, n in batches]
    assert sum(sizes) == 2 * WORKER_THRESHOLD + 4  # every message once, the first export's too
    assert all(n >= 100 for n in sizes[:-1]) and len(sizes) == 9
    assert sum(told) == SlackExport(export).day_files()  # the progress bar reaches its end


def test_a_large_import_in_many_batches_keeps_everything_once(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.services.history.BATCH", 64)
    export = many_days(tmp_path / "export", WORKER_THRESHOLD + 10)
    runner = CliRunner()
    runner.invoke(cli, ["db", "migrate", "--db", str(db_path)])
    runner.invoke(cli, ["erase", "--user", "slack:U2", "--db", str(db_path)])
    args = ["import", "slack-export", str(export), "--db", str(db_path)]
    first = runner.invoke(cli, args)
    assert first.output.strip() == (
        "Read 824 message(s): 412 added to the archive, 0 already there,"
        " 412 skipped (their authors opted out)."
    )
    again = runner.invoke(cli, args)
    assert "0 added to the archive, 412 already there" in again.output
    rows = archived(db_path)
    assert {r["author_id"] for r in rows} == {"slack:U1"}
    general = [r["text"] for r in rows if r["channel_id"] == "C2"]
    assert general == [f"day {n} bell" for n in range(WORKER_THRESHOLD + 10)]


def test_broken_json_read_by_the_worker_names_the_file(tmp_path: Path, db_path: Path) -> None:
    export = many_days(tmp_path / "export", WORKER_THRESHOLD)
    (export / "general" / "2030-01-01.json").write_text("[{not json")
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "general/2030-01-01.json in the export isn't valid JSON" in result.output
    assert "Traceback" not in result.output


def test_a_day_file_gone_while_reading_is_one_clear_line(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export")
    later = export / "general" / "2023-11-15.json"

    def work(messages: list) -> int:
        later.unlink(missing_ok=True)  # the export changes after the import began
        return len(messages)

    read: list[int] = []
    with pytest.raises(ExportError, match=r"general/2023-11-15.json went from .* moved or changed"):
        read.extend(SlackExport(export).batches(work, 1))
    assert read == [3]  # the day read before it: ips-north, three messages


def test_an_export_gone_before_the_worker_opens_it_is_the_workers_first_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "_worker", None)
    history._start_worker(tmp_path / "gone", history._no_region, [], len, 10)  # no raise
    with pytest.raises(ExportError, match="gone is not there"):
        history._worker_next()


def test_a_worker_that_died_is_a_sentence_not_a_broken_pool() -> None:
    died: Future[tuple[int, Any] | None] = Future()
    died.set_exception(BrokenProcessPool("A child process terminated abruptly"))
    with pytest.raises(ExportError, match=r"stopped before the end.*run the import again"):
        history._result(died)


def test_a_damaged_zip_names_the_file(tmp_path: Path, db_path: Path) -> None:
    path = zipped(write_export(tmp_path / "export"))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        member = z.getinfo("general/2023-11-15.json")
    # The member's stored bytes, just past its local header: flipped, its checksum fails.
    start = member.header_offset + 30 + len(member.filename.encode()) + len(member.extra)
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["import", "slack-export", str(path), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "general/2023-11-15.json in the export can't be read: the zip file is damaged" in (
        result.output
    )
    assert "Traceback" not in result.output


def _message(**fields: Any) -> list[dict[str, Any]]:
    return [
        {"type": "message", "user": "U2", "text": "Morning all", "ts": "1700086400.1", **fields}
    ]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("channels.json", {"C1": "general"}, "channels.json in the export isn't a list"),
        ("channels.json", ["general"], "channels.json in the export can't be read: in its channel 1, it is not an object"),
        ("channels.json", [{"name": "general"}], "in its channel 1, id is missing"),
        ("channels.json", [{"id": "C2", "name": 5}], "in its channel 1, name is not text"),
        ("users.json", None, "users.json in the export isn't a list"),
        ("users.json", [{"name": "sam"}], "users.json in the export can't be read: in its person 1, id is missing"),
        ("users.json", [{"id": "U2", "profile": "Sam"}], "in its person 1, profile is not an object"),
        ("general/2023-11-15.json", {"ts": "1"}, "general/2023-11-15.json in the export isn't a list"),
        ("general/2023-11-15.json", _message(ts="soon"), "in its message 1, ts is not a Slack timestamp"),
        ("general/2023-11-15.json", _message(ts="1e20"), "in its message 1, ts is not a Slack timestamp"),
        ("general/2023-11-15.json", _message(ts=1700086400.1), "in its message 1, ts is not a Slack timestamp"),
        ("general/2023-11-15.json", _message(thread_ts=5), "in its message 1, thread_ts is not a Slack timestamp"),
        ("general/2023-11-15.json", _message(text=["hi"]), "in its message 1, text is not text"),
        ("general/2023-11-15.json", _message(user=["U2"]), "in its message 1, user is not a Slack id"),
        ("general/2023-11-15.json", _message(subtype=["x"]), "in its message 1, subtype is not a keyword"),
        ("general/2023-11-15.json", _message(team=9), "in its message 1, team is not a Slack id"),
        ("general/2023-11-15.json", _message(edited="yes"), "in its message 1, edited is not an object"),
        ("general/2023-11-15.json", _message(edited={"ts": "x"}), "edited.ts is not a Slack timestamp"),
        ("general/2023-11-15.json", [*_message(), 7], "in its message 2, it is not an object"),
    ],
)  # fmt: skip
def test_a_file_or_record_not_shaped_as_slack_writes_it_is_one_line_naming_it(
    tmp_path: Path, db_path: Path, file: str, content: Any, message: str
) -> None:
    export = write_export(tmp_path / "export")
    (export / file).write_text(json.dumps(content))
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not db_path.exists() or archived(db_path) == []  # nothing half-read kept


def test_json_nested_too_deeply_is_one_line(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    (export / "general" / "2023-11-15.json").write_text("[" * 100_000 + "]" * 100_000)
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert "general/2023-11-15.json in the export isn't valid JSON (nested too deeply)" in (
        result.output
    )


def test_a_lone_surrogate_is_kept_as_a_replacement_character(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    day = '[{"type": "message", "user": "U2", "text": "caf\\ud800e", "ts": "1700086400.1"}]'
    (export / "general" / "2023-11-15.json").write_text(day)
    users = '[{"id": "U2", "name": "s\\udc00m"}]'
    (export / "users.json").write_text(users)
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    general = [(r["author_name"], r["text"]) for r in archived(db_path) if r["channel_id"] == "C2"]
    assert general == [("s\ufffdm", "caf\ufffde")]


def test_a_file_larger_than_slack_writes_is_refused_before_it_is_read(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "FILE_LIMIT", 10_000)
    folder = write_export(tmp_path / "export")
    bomb = b"[" + b" " * 50_000 + b"]"  # compresses to almost nothing, as a zip bomb does
    (folder / "general" / "2023-11-16.json").write_bytes(bomb)
    path = zipped(folder)
    read = zipfile.ZipFile.read

    def read_no_bomb(self: zipfile.ZipFile, name: str, pwd: bytes | None = None) -> bytes:
        assert name != "general/2023-11-16.json", "the bomb was unpacked"
        return read(self, name, pwd)

    monkeypatch.setattr(zipfile.ZipFile, "read", read_no_bomb)
    for export in (folder, path):
        args = ["import", "slack-export", str(export), "--db", str(db_path)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert result.output == (
            "Error: general/2023-11-16.json in the export is 0 MB, more than copbot reads from"
            " one file (0 MB): is it really from a Slack export?\n"
        )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / "general" / "2023-11-16.json").symlink_to(d.parent / "other.json"),
            "general/2023-11-16.json in the export is a symbolic link",
        ),
        (
            lambda d: ((d / "users.json").unlink(), (d / "users.json").symlink_to("/etc/passwd")),
            "users.json in the export is a symbolic link",
        ),
        (
            lambda d: (d / "elsewhere").symlink_to(d.parent / "other"),
            "elsewhere in the export is a symbolic link",
        ),
    ],
)
def test_links_in_an_export_folder_are_not_followed(
    tmp_path: Path, db_path: Path, make, message: str
) -> None:
    # What a hostile zip unpacked into a folder can hold: links to files of the server.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "2023-11-16.json").write_text(json.dumps(GENERAL_DAY))
    (tmp_path / "other.json").write_text(json.dumps(GENERAL_DAY))
    export = write_export(tmp_path / "export")
    make(export)
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {message}: copbot reads the export's own files, not what a link points to\n"
    )
    assert not db_path.exists() or archived(db_path) == []


def test_a_pipe_in_an_export_folder_is_one_line_not_a_wait(tmp_path: Path, db_path: Path) -> None:
    export = write_export(tmp_path / "export")
    pipe = export / "general" / "2023-11-16.json"
    os.mkfifo(pipe)
    results: list[Any] = []
    args = ["import", "slack-export", str(export), "--db", str(db_path)]
    importing = threading.Thread(target=lambda: results.append(CliRunner().invoke(cli, args)))
    importing.start()
    importing.join(60)
    if importing.is_alive():
        with open(pipe, "wb"):  # lets the waiting import go
            pass
        importing.join()
        pytest.fail("the import waited for someone to write to a pipe")
    assert results[0].exit_code == 1
    assert results[0].output == (
        "Error: general/2023-11-16.json in the export isn't a file, so copbot can't read it\n"
    )


def test_a_file_named_with_control_characters_is_named_without_them(
    tmp_path: Path, db_path: Path
) -> None:
    export = write_export(tmp_path / "export")
    hostile = "\x1b]0;owned\x07\n\rgeneral"  # would retitle the terminal and split the line
    (export / "channels.json").write_text(json.dumps([*CHANNELS, {"id": "C3", "name": hostile}]))
    (export / hostile).mkdir()
    (export / hostile / "2023-11-16.json").write_text("[{not json")
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: \\x1b]0;owned\\x07\\n\\rgeneral/2023-11-16.json in the export isn't valid JSON"
    )
    assert result.output.count("\n") == 1 and result.output.isascii()
    assert all(c.isprintable() for c in result.output.rstrip("\n"))


@pytest.mark.parametrize("channels", [None, {"C1": "general"}])
def test_what_isnt_an_export_creates_no_database(
    tmp_path: Path, channels: dict[str, str] | None
) -> None:
    export = write_export(tmp_path / "export")
    if channels is None:
        (export / "channels.json").unlink()
    else:
        (export / "channels.json").write_text(json.dumps(channels))
    db = tmp_path / "typo.db"
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db)])
    assert result.exit_code == 1 and "channels.json" in result.output
    assert not db.exists()


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"thread_ts": "U2"}, "in its message 2, thread_ts is not a Slack timestamp"),
        ({"user": "1700086000.1"}, "in its message 2, user is not a Slack id"),
        ({"team": "1700086000.1"}, "in its message 2, team is not a Slack id"),
    ],
)
def test_a_value_that_passed_as_one_field_is_still_checked_as_another(
    tmp_path: Path, db_path: Path, second: dict[str, Any], message: str
) -> None:
    # The first message's user id and thread timestamp pass their checks; the second
    # gives each where the other belongs.
    first = _message(thread_ts="1700086000.1")
    export = write_export(tmp_path / "export")
    day = [*first, *_message(ts="1700086401.1", **second)]
    (export / "general" / "2023-11-15.json").write_text(json.dumps(day))
    result = CliRunner().invoke(cli, ["import", "slack-export", str(export), "--db", str(db_path)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert not db_path.exists() or archived(db_path) == []


def test_a_busy_day_in_slack_s_own_shape_is_read_without_the_slower_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A day of Slack's messages, each with its blocks, holds thousands of brackets: it is
    still read by orjson (a third of json's time), json being kept for what orjson refuses."""
    from adapters.slack import history

    day = [
        {
            "type": "message", "user": "U2", "text": f"reply {n}", "ts": f"1700086400.{n:06d}",
            "blocks": [{"type": "rich_text", "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": f"reply {n}"}]}
            ]}],
        }
        for n in range(300)
    ]  # fmt: skip
    data = json.dumps(day).encode()
    assert data.count(b"{") + data.count(b"[") > 2000

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("read by json")

    monkeypatch.setattr(history.json, "loads", refused)
    assert history._parse("general/2023-11-15.json", data) == day
