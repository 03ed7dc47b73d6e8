"""A full disk or a database locked by another process while an inbound event is written:
the request is refused (a 5xx, never a 200), so Slack or Teams sends it again; the retry,
once storage is well, is accepted and archived once. Meanwhile /healthz says the database
can't be written (so Docker's health check notices), and is well again once a write is."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.slack import SlackAdapter
from adapters.teams import TeamsAdapter
from bot.app import CORE, create_app
from bot.clock import SystemClock
from bot.settings import Settings, TeamsSettings
from bot.signing import Signing
from storage import sqlite
from storage.conversations import SqliteConversationRepository
from tests.slack import conftest as slack_conftest
from tests.slack.conftest import ADMIN, SlackBot, Sleeps
from tests.slack.fake_slack import FakeSlack
from tests.slack.test_outages import reply as slack_reply
from tests.support.faults import REFUSALS, Faults, disk_full, locked, read_only
from tests.teams.conftest import ADMIN_AAD, LateStore, TeamsBot
from tests.teams.conftest import Sleeps as TeamsSleeps
from tests.teams.fake_connector import NORTH, TENANT, Call, FakeConnector
from tests.teams.test_contract import command
from tests.teams.test_contract import reply as teams_reply
from tests.test_cli_locked import HOLD
from tests.test_playground import Playground

ACCEPT = "SqliteInboxRepository.accept"
FAULTS: dict[str, Callable[[], Exception]] = {"disk full": disk_full, "locked": locked}
# What /healthz says of each: a reason in words, never SQLite's message or a path.
REASONS = {fault: (error, f"can't write: {words}") for fault, (error, words) in REFUSALS.items()}


def archived(db_path: Path) -> list[str]:
    conn = sqlite.connect(db_path)
    try:
        return [r[0] for r in conn.execute("select text from archive_messages").fetchall()]
    finally:
        conn.close()


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


@pytest.fixture
async def slack(db_path: Path, faults: Faults) -> AsyncIterator[SlackBot]:
    fake = await FakeSlack(
        users={"UBOT": "copbot", "U1SAM": "Sam Okafor", ADMIN: "Alex Morgan"},
        channels={"C1NORTH": "north"},
    ).start()
    config = slack_conftest.settings(db_path, fake)
    assert config.slack is not None
    app = create_app(config, adapters=[SlackAdapter(config.slack, SystemClock())], gate=faults)
    try:
        async with TestClient(TestServer(app)) as client:
            yield SlackBot(client, fake, db_path, Sleeps())
    finally:
        await fake.close()


@pytest.fixture
async def teams(db_path: Path, faults: Faults) -> AsyncIterator[TeamsBot]:
    fake = await FakeConnector().start()
    settings = TeamsSettings(tenants=frozenset({TENANT}))
    store = LateStore()
    adapter = TeamsAdapter(
        settings,
        store,  # type: ignore[arg-type]
        SystemClock(),
        sealer=Signing(b"k" * 32, SystemClock()).signer("teams-form"),
    )
    config = Settings(
        db_path=db_path,
        playground=False,
        teams=settings,
        admins=frozenset({f"teams:{ADMIN_AAD}"}),
    )
    app = create_app(config, adapters=[adapter], gate=faults)
    store.target = SqliteConversationRepository(app[CORE].db, SystemClock())
    try:
        async with TestClient(TestServer(app)) as client:
            yield TeamsBot(client, fake, db_path, TeamsSleeps())
    finally:
        await fake.close()


@pytest.fixture
async def playground(db_path: Path, faults: Faults) -> AsyncIterator[Playground]:
    async with TestClient(TestServer(create_app(Settings(db_path=db_path), gate=faults))) as c:
        pg = Playground(c)
        await pg.settled()
        yield pg


async def health(client: TestClient) -> tuple[int, dict[str, object]]:  # type: ignore[type-arg]
    r = await client.get("/healthz")
    return r.status, await r.json()


@pytest.mark.parametrize("fault", sorted(REASONS))
async def test_slack_health_is_unavailable_while_writes_fail_and_well_after(
    slack: SlackBot, faults: Faults, fault: str, db_path: Path
) -> None:
    await slack.command("prompt language", user=ADMIN)
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    envelope = slack_reply(3, post.answer["ts"])
    error, reason = REASONS[fault]
    faults.fail_writes(error)  # every write, as a full disk or a read-only file refuses
    assert (await slack.event(envelope)).status >= 500
    for _ in range(2):  # and so it stays, while the file refuses writes
        status, body = await health(slack.client)
        assert status == 503  # Docker's health check and any monitor see it
        assert body["status"] == "unavailable" and body["database"] == reason
    assert str(db_path) not in json.dumps(body) and "sqlite" not in json.dumps(body).lower()
    faults.clear()
    assert (await slack.event(envelope, retry=1)).status == 200  # the next write is kept
    status, body = await health(slack.client)
    assert (status, body["status"], body["database"]) == (200, "ok", "ok")


async def test_teams_health_is_unavailable_while_writes_fail_and_well_after(
    teams: TeamsBot, faults: Faults
) -> None:
    await teams.install()
    faults.fail_writes(disk_full)
    activity = command(teams, "prompt language", "1700000000901")
    assert (await teams.send(activity)).status == 503
    status, body = await health(teams.client)
    assert status == 503 and body["database"] == REASONS["disk full"][1]
    faults.clear()
    assert (await teams.send(activity)).status == 200
    status, body = await health(teams.client)
    assert (status, body["status"]) == (200, "ok")


async def test_playground_health_is_unavailable_while_writes_fail_and_well_after(
    playground: Playground, faults: Faults
) -> None:
    faults.fail_writes(read_only)
    said = {"as": "sam", "channel": "general", "text": "/cop help"}
    assert (await playground.client.post("/api/playground/messages", json=said)).status >= 500
    status, body = await health(playground.client)
    assert status == 503 and body["database"] == REASONS["read-only"][1]
    faults.clear()  # the file is copbot's again; nobody writes anything meanwhile
    status, body = await health(playground.client)
    assert (status, body["status"]) == (200, "ok")
    await playground.say("/cop help")  # and it takes what comes next


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_slack_is_refused_while_storage_fails_and_its_retry_is_kept_once(
    slack: SlackBot, faults: Faults, fault: str
) -> None:
    await slack.command("prompt language", user=ADMIN)  # a thread whose replies are kept
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    envelope = slack_reply(1, post.answer["ts"])
    before = slack.inbox_count()
    faults.fail(ACCEPT, FAULTS[fault])
    refused = await slack.event(envelope)
    assert refused.status >= 500  # not acknowledged: Slack sends it again
    assert faults.raised == [ACCEPT]
    assert slack.inbox_count() == before
    assert (await slack.event(envelope, retry=1)).status == 200
    assert (await slack.event(envelope, retry=2)).status == 200  # and once more: kept once
    await until(lambda: archived(slack.db_path))
    assert archived(slack.db_path) == ["outage reply 1"]
    assert slack.inbox_count() == before + 1


@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_teams_is_refused_while_storage_fails_and_its_retry_is_kept_once(
    teams: TeamsBot, faults: Faults, fault: str
) -> None:
    await teams.install()
    prompted = command(teams, "prompt language", "1700000000001")
    assert (await teams.send(prompted)).status == 200  # a thread whose replies are kept

    def in_north() -> list[Call]:
        return [
            c
            for c in teams.fake.of("create")
            if (c.body.get("channelData") or {}).get("channel", {}).get("id") == NORTH
        ]

    await until(in_north)
    root = in_north()[0].activity_id
    activity = teams_reply(teams, root, "1700000000500", "<p>kept once</p>")
    faults.fail(ACCEPT, FAULTS[fault])
    refused = await teams.send(activity)
    assert refused.status == 503  # not acknowledged: Teams sends it again
    assert faults.raised == [ACCEPT]
    assert (await teams.send(activity)).status == 200
    assert (await teams.send(activity)).status == 200
    await until(lambda: archived(teams.db_path))
    assert archived(teams.db_path) == ["kept once"]


@pytest.mark.slow  # the refused write waits out SQLite's busy timeout
async def test_slack_is_refused_while_another_process_holds_the_write_lock(
    slack: SlackBot,
) -> None:
    await slack.command("prompt language", user=ADMIN)
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    envelope = slack_reply(2, post.answer["ts"])
    await until(lambda: not pending(slack.db_path))  # the prompt is recorded: copbot is idle
    locker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD, str(slack.db_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert locker.stdin is not None and locker.stdout is not None
    try:
        assert await locker.stdout.readline() == b"held\n"
        assert (await slack.event(envelope)).status >= 500  # not acknowledged
    finally:
        locker.stdin.close()
        await locker.wait()
    assert (await slack.event(envelope, retry=1)).status == 200
    await until(lambda: archived(slack.db_path))
    assert archived(slack.db_path) == ["outage reply 2"]


def pending(db_path: Path) -> int:
    conn = sqlite.connect(db_path)
    try:
        return int(conn.execute("select count(*) from inbox where state = 'pending'").fetchone()[0])
    finally:
        conn.close()
