"""`copbot events` and the event settings: plans kept for the running copbot to announce,
bad input refused in one line with a non-zero exit and nothing kept."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.clock import SystemClock
from bot.events import LedgerState
from bot.model import ChannelRef
from bot.settings import ConfigError, Settings
from storage.database import Database
from storage.events import SqliteEventRepository


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--db", str(db)], env={}, catch_exceptions=False)


def soon(days: int = 10) -> str:
    return f"{datetime.now(UTC) + timedelta(days=days):%Y-%m-%d} 10:00"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "copbot.db"
    assert invoke(path, "db", "migrate").exit_code == 0
    return path


def test_add_list_and_cancel(db: Path) -> None:
    added = invoke(
        db, "events", "add", "--title", "Unconscious bias", "--region", "north",
        "--start", soon(), "--duration", "60", "--capacity", "20",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert added.output.startswith("event 1 planned: Unconscious bias") and "10:00" in added.output
    [row] = json.loads(invoke(db, "events", "list", "--format", "json").output)
    assert row["region"] == "north" and row["capacity"] == 20 and row["status"] == "scheduled"
    assert row["duration_minutes"] == 60 and row["timezone"] == "Europe/London"
    assert (
        json.loads(invoke(db, "events", "list", "--region", "South", "--format", "json").output)
        == []
    )
    table = invoke(db, "events", "list").output
    assert "Unconscious bias" in table and "going 0" in table
    assert invoke(db, "events", "cancel", "1").output == "event 1 cancelled: Unconscious bias\n"
    [row] = json.loads(invoke(db, "events", "list", "--format", "json").output)
    assert row["status"] == "cancelled"
    again = invoke(db, "events", "cancel", "1")
    assert again.exit_code == 1 and "already cancelled" in again.output


def test_edit_changes_what_is_given(db: Path) -> None:
    invoke(db, "events", "add", "--title", "T", "--region", "South", "--start", soon())
    edited = invoke(db, "events", "edit", "1", "--start", soon(12).replace("10:00", "14:30"))
    assert edited.exit_code == 0 and "14:30" in edited.output
    [row] = json.loads(invoke(db, "events", "list", "--format", "json").output)
    assert row["title"] == "T" and row["region"] == "south"
    assert edited.output.startswith("event 1 changed: T")
    same = invoke(db, "events", "edit", "1", "--title", "T")
    assert same.exit_code == 0 and same.output.startswith("event 1 unchanged: it is already T")
    assert "nobody was told" in same.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--start", "2020-01-01 10:00"), "already passed"),
        (("--start", "9998-06-01 10:00"), "more than five years away"),
        (("--duration", "0"), "at least a minute"),
        (("--duration", "2000"), "up to a day"),
        (("--region", "Atlantis"), "I don't know the region 'Atlantis'"),
        (("--capacity", "0"), "at least 1"),
        (("--title", "x" * 151), "150 characters"),
        (("--description", "x" * 2001), "2,000 characters"),
    ],
)
def test_bad_input_is_one_line_a_non_zero_exit_and_nothing_kept(
    db: Path, args: tuple[str, ...], words: str
) -> None:
    given = dict(zip(args[::2], args[1::2], strict=True))
    options = {"--title": "T", "--region": "North", "--start": soon()} | given
    result = invoke(db, "events", "add", *[x for kv in options.items() for x in kv])
    assert result.exit_code == 1
    assert words in result.output and result.output.count("\n") == 1
    assert json.loads(invoke(db, "events", "list", "--format", "json").output) == []


def test_regions_and_reminders_settings() -> None:
    s = Settings.from_env({"COPBOT_REGIONS": "Scotland, Wales,National"})
    assert s.regions == ("Scotland", "Wales", "National")
    assert Settings.from_env({}).regions == ("North", "Midlands", "London", "South", "National")
    reminders = Settings.from_env({"COPBOT_EVENT_REMINDERS": "1h, 2d,30m"}).event_reminders
    assert reminders == (timedelta(days=2), timedelta(hours=1), timedelta(minutes=30))
    assert Settings.from_env({"COPBOT_EVENT_REMINDERS": "none"}).event_reminders == ()
    with pytest.raises(ConfigError, match="COPBOT_EVENT_REMINDERS has '7 days'"):
        Settings.from_env({"COPBOT_EVENT_REMINDERS": "7 days"})
    with pytest.raises(ConfigError, match="names 'north' twice"):
        Settings.from_env({"COPBOT_REGIONS": "North,north"})
    with pytest.raises(ConfigError, match="can't have a region called 'All'"):
        Settings.from_env({"COPBOT_REGIONS": "North, ALL"})


def test_the_list_names_channels_whose_announcement_is_in_doubt(db: Path) -> None:
    invoke(
        db, "events", "add", "--title", "Peer supervision", "--region", "North", "--start", soon()
    )

    async def stopped_mid_post() -> None:
        database = Database.open(db)
        try:
            repo = SqliteEventRepository(database, SystemClock())
            north = ChannelRef("teams", "19:north@thread.tacv2", "tenant", "IPS North")
            leeds = ChannelRef("slack", "C2", "T1", "ips-leeds")
            for channel in (north, leeds):
                assert await repo.begin_announcement(1, channel) is None
            await repo.settle_announcement(1, north, LedgerState.UNKNOWN)
            await repo.settle_announcement(1, leeds, LedgerState.POSTED, "1700000000.000100")
        finally:
            database.close()

    asyncio.run(stopped_mid_post())
    [row] = json.loads(invoke(db, "events", "list", "--format", "json").output)
    assert row["announced_in"] == 1 and row["in_doubt"] == ["teams #IPS North"]
    table = invoke(db, "events", "list").output
    assert "announcement not known to be in: teams #IPS North" in table
