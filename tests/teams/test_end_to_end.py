"""The Teams scenario: `copbot serve` as a subprocess configured only through the environment,
Teams activities in (their serviceUrl a fake Bot Framework connector), `copbot export` out.

1. serve with COPBOT_TEAMS=on (no app id: unauthenticated, local testing), one tenant
   allowed, and COPBOT_ADMINS=teams:<aad-object-id>;
2. copbot is installed in a team whose General channel is 19:general@thread.tacv2;
3. the admin writes `@copbot prompt` there -> a new conversation in that channel;
4. three replies in the prompt's thread: one delivered twice, one edited (twice: the same
   activity id), one deleted -> the export holds the survivors once each, the last edited
   text, no HTML;
5. served again with MicrosoftAppId set: an activity with no token and one with a forged
   token are refused with 401, and nothing of them is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest

from tests.support.server import copbot_command, free_port, keep_log
from tests.teams.conftest import APP_ID, fixture, signer
from tests.teams.fake_connector import TEAM, TENANT, FakeConnector

pytestmark = pytest.mark.subprocess

ADMIN_AAD = "11111111-2222-3333-4444-555555555555"
ADMIN = {"id": "29:1admin", "name": "Alex Morgan", "aadObjectId": ADMIN_AAD}
PEOPLE = {
    "ade": {"id": "29:1ade", "name": "Ade", "aadObjectId": "aad-ade"},
    "bea": {"id": "29:1bea", "name": "Bea", "aadObjectId": "aad-bea"},
    "cal": {"id": "29:1cal", "name": "Cal", "aadObjectId": "aad-cal"},
}


@contextlib.asynccontextmanager
async def serving(db_path: Path, env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *copbot_command(), "serve", "--port", str(port), "--db", str(db_path),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(30):
                while True:
                    if process.returncode is not None:
                        output = await process.stdout.read()  # type: ignore[union-attr]
                        raise AssertionError(f"copbot serve stopped:\n{output.decode()}")
                    try:
                        async with session.get(f"{url}/healthz") as r:
                            if r.status == 200:
                                assert "teams" in (await r.json())["platforms"]
                                break
                    except aiohttp.ClientConnectionError:
                        pass
                    await asyncio.sleep(0.1)
        yield url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 15)
        output = (await process.stdout.read()).decode()  # type: ignore[union-attr]
        keep_log("teams-end-to-end", output)
        assert "Traceback" not in output, output


async def send(url: str, activity: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/api/messages", json=activity, headers=headers or {}) as r,
    ):
        await r.read()
        return r.status


def in_thread(
    fake: FakeConnector, kind: str, ident: str, root: str, who: dict[str, str], html: str
) -> dict[str, Any]:
    doc = fixture(kind)
    doc.update(
        {
            "id": ident,
            "serviceUrl": fake.url,
            "from": who,
            "text": html,
            "attachments": [],
            "entities": [],
            "conversation": {
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT,
                "id": f"{TEAM};messageid={root}",
            },
        }
    )
    doc["channelData"]["channel"] = {"id": TEAM}
    return doc


async def export(db_path: Path) -> list[dict[str, Any]]:
    done = await asyncio.create_subprocess_exec(
        *copbot_command(), "export", "--db", str(db_path), "--format", "jsonl",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await done.communicate()
    assert done.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def until(check: Any, timeout: float = 20.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.1)
        return result


@pytest.fixture
async def fake() -> AsyncIterator[FakeConnector]:
    connector = await FakeConnector(channels={TEAM: ""}).start()
    yield connector
    await connector.close()


async def test_the_teams_scenario_end_to_end(fake: FakeConnector, db_path: Path) -> None:
    env = {
        "COPBOT_TEAMS": "on",
        "COPBOT_TEAMS_TENANTS": TENANT,
        "COPBOT_ADMINS": f"teams:{ADMIN_AAD}",
    }
    async with serving(db_path, env) as url:
        # 2. installed in the team
        install = fixture("installed_in_team") | {"serviceUrl": fake.url}
        assert await send(url, install) == 200

        async def hello() -> Any:
            return fake.of("create")

        await until(hello)

        # 3. @copbot prompt in General -> a new conversation there
        command = in_thread(
            fake, "channel_command", "1700000009000", "1700000009000", ADMIN,
            "<at>copbot</at> prompt",
        )  # fmt: skip
        command["entities"] = fixture("channel_command")["entities"]
        assert await send(url, command) == 200

        async def prompted() -> Any:
            posts = [c for c in fake.of("create") if c.body.get("isGroup")]
            return len(posts) >= 2 and posts[-1]

        post = await until(prompted)
        assert post.body["channelData"]["channel"]["id"] == TEAM
        root = post.activity_id

        # 4. three replies: one twice, one edited twice, one deleted
        ade = in_thread(fake, "channel_reply", "r-ade", root, PEOPLE["ade"],
                        "<p>Asking people how they <b>describe</b> themselves helps.</p>")  # fmt: skip
        bea = in_thread(fake, "channel_reply", "r-bea", root, PEOPLE["bea"],
                        "<p>We use the word minority too much</p>")  # fmt: skip
        cal = in_thread(fake, "channel_reply", "r-cal", root, PEOPLE["cal"],
                        "<p>Something I&#39;d rather take back</p>")  # fmt: skip
        for activity in (ade, bea, cal, ade):
            assert await send(url, activity) == 200
        first_edit = in_thread(fake, "message_update", "r-bea", root, PEOPLE["bea"],
                               "<p>We say minority too often</p>")  # fmt: skip
        first_edit["timestamp"] = "2026-11-30T10:05:00.000Z"
        second_edit = in_thread(fake, "message_update", "r-bea", root, PEOPLE["bea"],
                                "<p>We say minority too often; I&#39;m learning to ask.</p>")  # fmt: skip
        second_edit["timestamp"] = "2026-11-30T10:06:00.000Z"
        delete = in_thread(fake, "message_delete", "r-cal", root, PEOPLE["cal"], "")
        for activity in (first_edit, second_edit, delete):
            assert await send(url, activity) == 200

        expected = [
            ("teams:aad-ade", "Asking people how they describe themselves helps."),
            ("teams:aad-bea", "We say minority too often; I'm learning to ask."),
        ]

        async def exported() -> Any:
            rows = await export(db_path)
            got = [(r["author_id"], r["text"]) for r in rows]
            return got if got == expected else None

        await until(exported)

    # 5. with an app id, activities without a valid token are refused
    forger = signer("forged-key")
    secured = env | {
        "MicrosoftAppId": APP_ID,
        "MicrosoftAppPassword": "not-a-real-secret",
        "MicrosoftAppType": "MultiTenant",
    }
    async with serving(db_path, secured) as url:
        stranger = in_thread(fake, "channel_reply", "r-forged", root, PEOPLE["cal"],
                             "<p>FORGED words</p>")  # fmt: skip
        assert await send(url, stranger) == 401
        # Signed by a key of its own, naming an issuer Microsoft never uses (so no key fetch
        # leaves this machine).
        token = forger.token(fake.url, iss="https://forger.example.org")
        assert jwt.get_unverified_header(token)["kid"] == "forged-key"
        assert await send(url, stranger, {"Authorization": f"Bearer {token}"}) == 401
        assert await send(url, stranger, {"Authorization": "Bearer not.a.token"}) == 401
    texts = [r["text"] for r in await export(db_path)]
    assert not any("FORGED" in t for t in texts)
