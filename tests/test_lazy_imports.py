"""What a copbot process loads depends on what it is set up for: a platform's SDK only where
that platform is configured, and the console's templates, the calendar library and the
metrics client only once they are used; Teams' SDK (botbuilder and what it brings: the
connector's msrest, requests, msal, PyJWT, cryptography) only once a token is checked, a
turn taken or something sent. Each case builds the app in a fresh interpreter and reads its
sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("botbuilder", "slack_bolt", "slack_sdk", "jinja2", "icalendar", "prometheus_client")
# botbuilder and the packages it brings (24 MiB): none of them loaded by Teams at start.
BOTBUILDER = (
    "botbuilder",
    "botframework",
    "msrest",
    "azure",
    "msal",
    "requests",
    "jwt",
    "cryptography",
)

BUILD = """
import json, os, sys
import bot.cli
from bot.app import create_app
from bot.settings import Settings
create_app(Settings.from_env(os.environ, db=sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""

# Teams, unauthenticated, sent what loopback sends in local testing: a reply in a channel
# (archived without a botbuilder turn), then a message naming someone without their aad id
# (a turn, to ask Teams who they are). sys.modules is read after each.
SERVE_TEAMS = """
import asyncio, json, os, sys
from aiohttp.test_utils import TestClient, TestServer
import bot.cli
from bot.app import create_app
from bot.settings import Settings

def message(ident, **more):
    return {
        "type": "message", "id": ident, "channelId": "msteams",
        "serviceUrl": "http://127.0.0.1:9/",
        "from": {"id": "29:1", "name": "Alex", "aadObjectId": "aad-1"},
        "recipient": {"id": "28:bot", "name": "copbot"},
        "conversation": {"id": "19:c@thread.tacv2;messageid=1700000000000", "tenantId": "t1"},
        "channelData": {"channel": {"id": "19:c@thread.tacv2"}, "team": {"id": "19:t"},
                        "tenant": {"id": "t1"}},
        "text": "<p>noticed</p>", **more,
    }

async def main():
    seen = []
    app = create_app(Settings.from_env(os.environ, db=sys.argv[1]))
    async with TestClient(TestServer(app)) as client:
        answer = await client.post("/api/messages", json=message("a"))
        assert answer.status == 200, answer.status
        seen.append(sorted(sys.modules))
        naming = {"type": "mention", "mentioned": {"id": "29:2", "name": "Sam"}}
        answer = await client.post("/api/messages", json=message("b", entities=[naming]))
        assert answer.status == 200, answer.status
        seen.append(sorted(sys.modules))
    print(json.dumps(seen))

asyncio.run(main())
"""

pytestmark = pytest.mark.subprocess


def loaded(tmp_path: Path, env: dict[str, str], script: str = BUILD) -> set[str]:
    """The packages and modules loaded by building the app with ``env``: "a.b" is there
    with "a" once a.b is imported."""
    return loaded_after(tmp_path, env, script)[-1]


def loaded_after(tmp_path: Path, env: dict[str, str], script: str) -> list[set[str]]:
    """What ``loaded`` reads, for a script that prints sys.modules (or a list of them)."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "copbot.db")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    runs: list[list[str]] = printed if printed and isinstance(printed[0], list) else [printed]
    return [set(names) | {name.split(".")[0] for name in names} for names in runs]


def test_the_playground_loads_no_platform_sdk_templates_calendar_or_metrics(
    tmp_path: Path,
) -> None:
    assert loaded(tmp_path, {}).isdisjoint(HEAVY)


def test_slack_loads_its_sdk_and_nothing_of_teams(tmp_path: Path) -> None:
    modules = loaded(
        tmp_path, {"SLACK_SIGNING_SECRET": "s" * 32, "SLACK_BOT_TOKEN": "xoxb-test-0000-fake"}
    )
    assert {"slack_bolt", "slack_sdk"} <= modules
    assert "slack_bolt.adapter.socket_mode" not in modules  # over HTTP, no Socket Mode client
    assert modules.isdisjoint({"botbuilder", "jinja2", "icalendar", "prometheus_client"})


def test_teams_starts_without_botbuilder_and_nothing_of_slack(tmp_path: Path) -> None:
    modules = loaded(tmp_path, {"COPBOT_TEAMS": "on", "COPBOT_TEAMS_TENANTS": "t1"})
    assert "adapters.teams" in modules
    assert modules.isdisjoint(BOTBUILDER)
    assert modules.isdisjoint({"slack_bolt", "slack_sdk", "jinja2", "icalendar"})


def test_authenticated_teams_starts_without_botbuilder_too(tmp_path: Path) -> None:
    env = {
        "MicrosoftAppId": "app-1",
        "MicrosoftAppPassword": "secret",
        "COPBOT_TEAMS_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }
    assert loaded(tmp_path, env).isdisjoint(BOTBUILDER)


def test_teams_archives_replies_without_botbuilder_and_loads_it_for_a_turn(
    tmp_path: Path,
) -> None:
    env = {"COPBOT_TEAMS": "on", "COPBOT_TEAMS_TENANTS": "t1"}
    replied, turned = loaded_after(tmp_path, env, SERVE_TEAMS)
    assert replied.isdisjoint(BOTBUILDER)
    assert {"botbuilder.core", "botframework.connector", "jwt"} <= turned


def test_metrics_on_loads_the_prometheus_client(tmp_path: Path) -> None:
    assert "prometheus_client" in loaded(tmp_path, {"COPBOT_METRICS": "on"})
