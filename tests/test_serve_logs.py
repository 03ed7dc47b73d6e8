"""What every `copbot serve` the suite started wrote to its standard output and error
(kept by tests/support/server.py) holds no token, secret or key, and none of the words of
the anonymous answers and replies the proof tests use. Runs after the rest of the session,
and adds a run of its own, so that it always reads something: the playground taking an
anonymous reply, and refused requests carrying secrets and anonymous words."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import test_anonymous_replies_proof, test_feedback_proof
from tests.slack import test_anonymous_replies_proof as slack_replies
from tests.slack import test_feedback_proof as slack_feedback
from tests.slack.fake_slack import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from tests.support.server import Served, kept_logs, serving
from tests.teams import test_anonymous_replies_proof as teams_replies
from tests.teams import test_feedback_proof as teams_feedback

pytestmark = [pytest.mark.subprocess, pytest.mark.reads_serve_logs]

SECRET_KEY = "copbot-log-probe-secret-key-0123456789abcdef"
APP_PASSWORD = "teams-log-probe-app-password"
SECRETS = (BOT_TOKEN, APP_TOKEN, SIGNING_SECRET, "not-a-real-secret", SECRET_KEY, APP_PASSWORD)

# The words of the proof tests' anonymous answers and replies, by the part every person's
# shares; each is checked against the proof test's own words, so a change there shows here.
WORDS: dict[str, Callable[[str], str]] = {
    "what I could not say aloud, from the": test_anonymous_replies_proof.words,
    "hearing others talk about privilege": test_feedback_proof.words,
    "what I could not say aloud, from voice": slack_replies.words,
    "what stayed with me, in words of": slack_feedback.words,
    "what I could not say aloud": teams_replies.words,
    "what stayed with me": teams_feedback.words,
}


def post(served: Served, path: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        served.url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, None


def until(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
    return result


def anonymous_reply(served: Served, words: str) -> None:
    """Priya posts a prompt in the playground; Sam replies to it anonymously."""
    status, _ = post(
        served,
        "/api/playground/messages",
        {"as": "priya", "channel": "north", "text": "/cop prompt language"},
    )
    assert status == 200
    button = re.compile(r'data-action="([^"]*reply[^"]*)"[^>]*data-message="([^"]+)"')

    def prompt() -> tuple[str, str] | None:
        _, state = served.get_json("/api/playground/state?as=sam&channel=north")
        found = [m.groups() for msg in state["messages"] if (m := button.search(msg["html"]))]
        return found[0] if found else None

    action, message = until(prompt)
    body = {"as": "sam", "message_id": message, "action_id": action, "value": ""}
    assert post(served, "/api/playground/actions", body)[0] == 200

    def form() -> str | None:
        _, state = served.get_json("/api/playground/state?as=sam&channel=north")
        return state["forms"][0]["token"] if state["forms"] else None

    token = until(form)
    status, done = post(
        served, f"/api/playground/forms/{token}", {"as": "sam", "values": {"text": words}}
    )
    assert status == 200 and "thanks" in done


def test_no_serve_log_holds_a_secret_or_an_anonymous_answer(tmp_path: Path) -> None:
    for stem, words in WORDS.items():
        assert stem in words("U1SAM-aad-sam"), stem  # the proof tests' words, still
    anonymous = test_anonymous_replies_proof.words("sam")
    env = {
        "COPBOT_PLAYGROUND": "on",
        "COPBOT_SECRET_KEY": SECRET_KEY,
        "MicrosoftAppId": "00000000-0000-0000-0000-0000000010c5",
        "MicrosoftAppPassword": APP_PASSWORD,
        "COPBOT_TEAMS_TENANTS": "72f988bf-86f1-41af-91ab-2d7cd011db47",
    }
    with serving(tmp_path / "copbot.db", env) as served:
        anonymous_reply(served, anonymous)
        # Refused requests whose bodies and headers carry secrets and anonymous words.
        forged = {
            "type": "message",
            "text": anonymous,
            "serviceUrl": "http://127.0.0.1:9/",
            "channelId": "msteams",
        }
        status, _ = post(served, "/api/messages", forged, Authorization=f"Bearer {APP_PASSWORD}")
        assert status == 401
        status, _ = post(served, "/api/playground/messages", {"as": "nobody", "text": SECRET_KEY})
        assert 400 <= status < 500
    own = served.output()
    assert "copbot is running" in own  # the probe reads what copbot wrote
    # The playground beside a real platform is warned of: whoever opens it acts on Teams' too.
    assert "the playground is on beside Teams (COPBOT_PLAYGROUND=on)" in own
    logs = kept_logs()
    assert served.log in logs
    for log in logs:
        text = log.read_text(errors="replace")
        for secret in SECRETS:
            assert secret not in text, f"{log.name} holds a secret"
        for stem in WORDS:
            assert stem not in text, f"{log.name} holds an anonymous answer's words"
