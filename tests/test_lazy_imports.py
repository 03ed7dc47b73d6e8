"""What a copbot process loads depends on what it is set up for: a platform's SDK only where
that platform is configured, and the console's templates, the calendar library and the
metrics client only once they are used. Each case builds the app in a fresh interpreter
and reads its sys.modules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("botbuilder", "slack_bolt", "slack_sdk", "jinja2", "icalendar", "prometheus_client")

BUILD = """
import json, os, sys
import bot.cli
from bot.app import create_app
from bot.settings import Settings
create_app(Settings.from_env(os.environ, db=sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""

pytestmark = pytest.mark.subprocess


def loaded(tmp_path: Path, env: dict[str, str]) -> set[str]:
    """The packages and modules loaded by building the app with ``env``: "a.b" is there
    with "a" once a.b is imported."""
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(tmp_path / "copbot.db")],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    names: list[str] = json.loads(done.stdout)
    return set(names) | {name.split(".")[0] for name in names}


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


def test_teams_loads_botbuilder_and_nothing_of_slack(tmp_path: Path) -> None:
    modules = loaded(tmp_path, {"COPBOT_TEAMS": "on", "COPBOT_TEAMS_TENANTS": "t1"})
    assert "botbuilder" in modules
    assert modules.isdisjoint({"slack_bolt", "slack_sdk", "jinja2", "icalendar"})


def test_metrics_on_loads_the_prometheus_client(tmp_path: Path) -> None:
    assert "prometheus_client" in loaded(tmp_path, {"COPBOT_METRICS": "on"})
