from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from storage import sqlite as sqlite3  # one SQLite library per process: see storage/sqlite.py

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env or {}, catch_exceptions=False)


def test_db_migrate_creates_and_then_reports_up_to_date(db_path: Path) -> None:
    first = invoke("db", "migrate", "--db", str(db_path))
    assert first.exit_code == 0 and "Applied" in first.output and "0001_core" in first.output
    again = invoke("db", "migrate", "--db", str(db_path))
    assert again.exit_code == 0 and "is up to date" in again.output


def test_copbot_db_environment_variable_is_honoured(db_path: Path) -> None:
    result = invoke("db", "migrate", env={"COPBOT_DB": str(db_path)})
    assert result.exit_code == 0 and db_path.exists()


def test_roles_grant_list_revoke(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    invoke("db", "migrate", *db)
    assert (
        "slack:U1 is now a facilitator."
        in invoke("roles", "grant", "facilitator", "slack:U1", *db).output
    )
    granted = invoke("roles", "grant", "ADMIN", "slack:U2", *db).output
    assert "slack:U2 is now an admin." in granted
    assert "copbot hasn't met slack:U2 yet" in granted  # as in chat: a typo is likely
    listing = invoke("roles", "list", *db, env={"COPBOT_ADMINS": "local:alex"})
    assert listing.output.splitlines() == [
        "local:alex  admin        granted by COPBOT_ADMINS",
        "slack:U2    admin        granted by cli",
        "slack:U1    facilitator  granted by cli",
    ]
    as_json = json.loads(invoke("roles", "list", "--format", "json", *db).output)
    assert {"identity": "slack:U1", "role": "facilitator", "granted_by": "cli"} in as_json
    assert (
        "no longer a facilitator"
        in invoke("roles", "revoke", "facilitator", "slack:U1", *db).output
    )
    conn = sqlite3.connect(db_path)
    assert conn.execute("select identity from roles").fetchall() == [("slack:U2",)]
    conn.close()


@pytest.mark.parametrize(
    ("kept", "again_exit", "again_says"),
    [
        # Older copbots kept ``slack:u012abc`` as typed; ``revoke`` reads it as slack:U012ABC.
        ("slack:u012abc", 0, "nothing changed"),
        # A shape today's check refuses: revoked all the same, as chat and the console do;
        # only what holds no grant is refused, as a typo.
        ("slack:sam", 2, "slack:sam"),
    ],
)
def test_a_grant_kept_as_typed_before_identities_were_checked_can_be_revoked(
    db_path: Path, kept: str, again_exit: int, again_says: str
) -> None:
    db = ["--db", str(db_path)]
    invoke("db", "migrate", *db)
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "insert into roles (identity, role, granted_by, granted_at)"
            " values (?, 'facilitator', 'cli', '2026-11-01T09:00:00+00:00')",
            (kept,),
        )
    conn.close()
    result = invoke("roles", "revoke", "facilitator", kept, *db)
    assert result.exit_code == 0 and "no longer a facilitator" in result.output
    conn = sqlite3.connect(db_path)
    assert conn.execute("select identity from roles").fetchall() == []
    conn.close()
    again = invoke("roles", "revoke", "facilitator", kept, *db)
    assert again.exit_code == again_exit and again_says in again.output
    assert "Traceback" not in again.output


def test_refusing_to_remove_the_last_admin_is_an_error_exit(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    invoke("db", "migrate", *db)
    invoke("roles", "grant", "admin", "slack:U2", *db)
    result = invoke("roles", "revoke", "admin", "slack:U2", *db)
    assert result.exit_code == 1 and "the only admin" in result.output


def test_bad_arguments_are_explained_without_a_traceback(db_path: Path) -> None:
    db = ["--db", str(db_path)]
    bad_role = invoke("roles", "grant", "boss", "slack:U1", *db)
    assert (
        bad_role.exit_code == 2
        and "'boss' isn't a role. Roles are facilitator and admin." in bad_role.output
    )
    bad_who = invoke("roles", "grant", "admin", "U1", *db)
    assert bad_who.exit_code == 2 and "write it as platform:id" in bad_who.output
    staff = invoke("roles", "grant", "staff", "slack:U1", *db)
    assert staff.exit_code == 2 and "everyone is staff already" in staff.output
    assert "Traceback" not in bad_role.output + bad_who.output + staff.output


def test_a_bad_database_path_is_one_line(tmp_path: Path) -> None:
    result = invoke("roles", "grant", "admin", "slack:U1", "--db", str(tmp_path / "nope" / "x.db"))
    assert result.exit_code == 1
    missing = tmp_path / "nope"
    assert result.output.strip().splitlines() == [
        f"Error: cannot open database {missing / 'x.db'}: folder {missing} does not exist"
    ]


def test_malformed_configuration_is_one_line(db_path: Path) -> None:
    result = invoke("roles", "list", "--db", str(db_path), env={"COPBOT_ADMINS": "nobody"})
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "COPBOT_ADMINS" in result.output


def test_db_works_before_or_after_the_subcommand(tmp_path: Path) -> None:
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    assert invoke("--db", str(first), "db", "migrate").exit_code == 0
    assert first.exists()
    assert invoke("--db", str(first), "roles", "grant", "admin", "slack:U1").exit_code == 0
    assert "slack:U1" in invoke("--db", str(first), "roles", "list").output
    assert "slack:U1" in invoke("roles", "list", "--db", str(first)).output
    # the one nearer the command wins, and both beat COPBOT_DB
    invoke("db", "migrate", "--db", str(second))
    nearer = invoke("--db", str(first), "roles", "list", "--db", str(second))
    assert "Nobody has a role yet" in nearer.output
    env = {"COPBOT_DB": str(second)}
    assert "slack:U1" in invoke("--db", str(first), "roles", "list", env=env).output
    assert "Nobody has a role yet" in invoke("roles", "list", env=env).output


@pytest.mark.parametrize(
    "command",
    [
        ["search", "bias"],
        ["export"],
        ["export", "--format", "markdown"],
        ["roles", "list"],
        ["roles", "revoke", "admin", "slack:U1"],
        ["prompts", "list"],
        ["prompts", "remove", "language-x"],
        ["schedule", "list"],
        ["schedule", "cancel", "1"],
    ],
)
def test_commands_that_read_refuse_a_database_that_is_not_there(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "typo.db"
    result = invoke(*command, "--db", str(missing))
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: there's no database at {missing}; check --db (or COPBOT_DB), or create one "
        "with `copbot db migrate` or by starting `copbot serve`"
    ]
    assert not missing.exists()  # and no empty one was made


def test_export_to_a_folder_that_does_not_exist_is_one_line(db_path: Path, tmp_path: Path) -> None:
    invoke("db", "migrate", "--db", str(db_path))
    target = tmp_path / "missing" / "folder" / "x.html"
    result = CliRunner().invoke(
        cli, ["export", "--format", "html", "-o", str(target), "--db", str(db_path)]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: can't write {target}: No such file or directory"
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_erasing_someone_copbot_never_saw_says_it_found_nothing(db_path: Path) -> None:
    invoke("db", "migrate", "--db", str(db_path))
    result = invoke("erase", "--user", "slack:UNKNOWN", "--db", str(db_path))
    assert result.exit_code == 0
    assert result.output.startswith("Found nothing of slack:UNKNOWN to erase")
    assert "Erased 0" not in result.output


def test_a_manifest_for_plain_http_warns_that_slack_needs_https() -> None:
    runner = CliRunner()
    plain = runner.invoke(cli, ["slack", "manifest", "--url", "http://copbot.example.org"])
    assert plain.exit_code == 0
    assert "Warning: Slack only sends requests to https:// addresses" in plain.stderr
    assert '"http://copbot.example.org/slack/events"' in plain.stdout  # still as asked
    secure = runner.invoke(cli, ["slack", "manifest", "--url", "https://copbot.example.org"])
    assert secure.exit_code == 0 and secure.stderr == ""


SLOW_COMMAND = """
import asyncio, sys
from bot.cli import cli, main
from bot.cli.base import run

@cli.command("slow")
def slow() -> None:
    print("started", flush=True)
    run(asyncio.sleep(60))

sys.argv = ["copbot", "slow"]
main()
"""


STOPPED = "copbot stopped (Ctrl+C) before finishing; anything it was writing may be incomplete."


def _started(command: str) -> subprocess.Popen[str]:
    """``command`` in a Python of its own, once it has printed "started" (under way)."""
    child = subprocess.Popen(
        [sys.executable, "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "started"
    return child


STUBBORN_COMMAND = """
import asyncio, sys, time
from bot.cli import cli, main
from bot.cli.base import run

async def stubborn() -> None:
    try:
        print("started", flush=True)  # under way, inside the try
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        print("cleaning up", flush=True)
        time.sleep(60)  # a clean-up that never ends

@cli.command("stubborn")
def command() -> None:
    run(stubborn())

sys.argv = ["copbot", "stubborn"]
main()
"""


@pytest.mark.subprocess
def test_a_second_ctrl_c_stops_a_clean_up_that_hangs() -> None:
    child = _started(STUBBORN_COMMAND)
    assert child.stdout is not None
    child.send_signal(signal.SIGINT)
    assert child.stdout.readline().strip() == "cleaning up"  # the first asked it to stop
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert err.strip().splitlines()[-1] == STOPPED


# A Ctrl+C that lands the moment a SIGINT handler is installed, as copbot (or asyncio.run,
# which on Python 3.11 then lost it, or turned it into a CancelledError traceback) starts
# the command: sent from inside signal.signal, so it lands there every time.
CTRL_C_AS_IT_STARTS = (
    """
import os, signal
install = signal.signal
sent = []

def installing(signum, handler):
    previous = install(signum, handler)
    if signum == signal.SIGINT and callable(handler) and not sent:
        if handler is not signal.default_int_handler:
            sent.append(1)
            os.kill(os.getpid(), signal.SIGINT)
    return previous

signal.signal = installing
"""
    + SLOW_COMMAND
)


@pytest.mark.subprocess
def test_ctrl_c_as_a_command_starts_is_one_line() -> None:
    child = subprocess.run(
        [sys.executable, "-c", CTRL_C_AS_IT_STARTS], capture_output=True, text=True, timeout=30
    )
    assert child.stdout.strip() == "started"
    assert child.returncode == 130, child.stderr
    assert child.stderr.strip().splitlines() == [STOPPED]


@pytest.mark.subprocess
def test_ctrl_c_on_a_long_command_is_one_line() -> None:
    child = _started(SLOW_COMMAND)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert child.returncode == 130
    assert err.strip().splitlines() == [STOPPED]


@pytest.mark.subprocess
@pytest.mark.parametrize("name", ["archive", "ingest"])
def test_bench_help_prints_help_and_runs_nothing(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m bench {name}")
    assert "--quick" in done.stdout
    assert "benchmark," not in done.stdout and "requests/s" not in done.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--region", "moon"], "there's no region 'moon'. The regions are: North, Midlands"),
        (["--topic", "langauge"], "Did you mean language?"),
        (["--since", "2026-12-01", "--until", "2026-01-01"], "--since is after --until"),
        (["--channel", "#nosuch"], "nothing in the archive is from the channel '#nosuch'"),
    ],
)
@pytest.mark.parametrize("command", ["export", "search"])
def test_a_filter_that_could_never_match_says_why(
    db_path: Path, command: str, args: list[str], said: str
) -> None:
    invoke("db", "migrate", "--db", str(db_path))
    words = ["privilege"] if command == "search" else []
    result = invoke(command, *words, *args, "--db", str(db_path))
    assert result.exit_code == 2 and said in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["export", "search"])
def test_dates_at_the_ends_of_the_calendar_narrow_nothing_in_any_time_zone(
    db_path: Path, command: str
) -> None:
    # East of UTC, 0001-01-01's midnight is in year 0; 9999-12-31 has no day after it.
    env = {"COPBOT_TIMEZONE": "Asia/Tokyo"}
    invoke("db", "migrate", "--db", str(db_path), env=env)
    words = ["privilege"] if command == "search" else []
    ends = ["--since", "0001-01-01", "--until", "9999-12-31"]
    result = invoke(command, *words, *ends, "--db", str(db_path), env=env)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_the_region_filter_follows_the_configured_regions(db_path: Path) -> None:
    env = {"COPBOT_REGIONS": "Scotland,Wales,National"}
    invoke("db", "migrate", "--db", str(db_path), env=env)
    assert invoke("export", "--region", "scotland", "--db", str(db_path), env=env).exit_code == 0
    refused = invoke("export", "--region", "north", "--db", str(db_path), env=env)
    assert refused.exit_code == 2 and "there's no region 'north'" in refused.output
    assert "Scotland, Wales, National" in refused.output


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("feedback", "list"), "No feedback rounds yet."),
        (("events", "list"), "No events to come, nor in the last 30 days."),
        (("events", "list", "--region", "north"), "No events in North to come"),
        (("schedule", "list"), "No prompts are scheduled."),
        (("roles", "list"), "Nobody has a role yet"),
        (("search", "anything"), "No matches."),
    ],
)
def test_a_list_with_nothing_in_it_says_so(
    db_path: Path, command: tuple[str, ...], said: str
) -> None:
    # An empty answer reads as a command that did nothing, or looked in the wrong file.
    invoke("db", "migrate", "--db", str(db_path))
    result = invoke(*command, "--db", str(db_path))
    assert result.exit_code == 0 and said in result.output, result.output


@pytest.mark.parametrize("host", ["::1", "[::1]", "127.0.0.1"])
def test_serve_listens_on_an_address_written_either_way(host: str) -> None:
    """`--host [::1]`, as a URL writes an IPv6 address, is the same as `--host ::1`."""
    from bot.cli.serve import _listen

    sock = _listen(host, 0)
    try:
        assert sock.getsockname()[0] == host.strip("[]")
    finally:
        sock.close()
