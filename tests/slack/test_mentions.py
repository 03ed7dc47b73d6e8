"""A reply in a prompt's thread that mentions copbot, on Slack, which delivers it twice: as
a ``message`` and as an ``app_mention``. A reply like any other is kept once and answered
kindly; a real command is answered and never kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot, fixture
from tests.slack.fake_slack import BOT_USER
from tests.slack.test_contract import texts

THANKS = "thanks, I found the language prompt useful"


async def prompt(slack: SlackBot) -> str:
    """An admin posts a prompt in #north; returns its ts, the thread's root."""
    assert (await slack.command("prompt language", user=ADMIN)).status == 200
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    return str(post.answer["ts"])


def delivered(root: str, ts: str, words: str, n: int) -> list[dict[str, Any]]:
    """Sam's reply in the thread, as Slack delivers it: a message, then an app_mention."""
    message = copy.deepcopy(fixture("message_thread_reply"))
    message["event"] |= {"ts": ts, "event_ts": ts, "thread_ts": root, "text": words}
    message["event_id"] = f"Ev{n}MESSAGE"
    mention = copy.deepcopy(fixture("app_mention"))
    mention["event"] |= {"ts": ts, "event_ts": ts, "thread_ts": root, "text": words}
    mention["event"]["user"] = "U1SAM"
    mention["event_id"] = f"Ev{n}MENTION"
    return [message, mention]


def archive(slack: SlackBot) -> list[str]:
    conn = sqlite.connect(slack.db_path)
    try:
        return [r[0] for r in conn.execute("select text from archive_messages order by text")]
    finally:
        conn.close()


def answers(slack: SlackBot) -> str:
    return "\n".join(texts(c.args) for c in slack.fake.of("chat.postEphemeral"))


async def test_a_reply_that_mentions_copbot_is_kept_once_with_the_thread(slack: SlackBot) -> None:
    root = await prompt(slack)
    for envelope in delivered(root, "1700000200.000100", f"<@{BOT_USER}> {THANKS}", 1):
        assert (await slack.event(envelope)).status == 200
    await slack.fake.until(lambda: "part of the conversation" in answers(slack))
    assert "I don't know the command" not in answers(slack)
    assert "I took your message as part of the conversation" in answers(slack)
    assert await slack.until(lambda: archive(slack)) == [f"@copbot {THANKS}"]


@pytest.mark.parametrize(
    ("words", "answered"),
    [
        ("search bias", "bias"),
        # Maybe feedback meant to be anonymous: the command's, never kept under their name.
        ("feedback the session felt rushed", "on its own lists the open rounds"),
    ],
    ids=["search", "feedback with words"],
)
async def test_a_command_in_a_thread_is_answered_and_not_kept(
    slack: SlackBot, words: str, answered: str
) -> None:
    root = await prompt(slack)
    for envelope in delivered(root, "1700000200.000200", f"<@{BOT_USER}> {words}", 2):
        assert (await slack.event(envelope)).status == 200
    plain = copy.deepcopy(fixture("message_thread_reply"))
    plain["event"] |= {"ts": "1700000200.000300", "thread_ts": root, "text": "An ordinary reply"}
    plain["event_id"] = "Ev3PLAIN"
    assert (await slack.event(plain)).status == 200
    await slack.fake.until(lambda: answered in answers(slack))
    await slack.until(lambda: _settled(slack))
    assert archive(slack) == ["An ordinary reply"]
    assert "part of the conversation" not in answers(slack)


def _settled(slack: SlackBot) -> bool:
    conn = sqlite.connect(slack.db_path)
    try:
        pending = conn.execute("select count(*) from inbox where state = 'pending'").fetchall()
        return int(pending[0][0]) == 0
    finally:
        conn.close()


async def test_a_mention_in_mid_sentence_is_conversation_kept_without_a_note(
    slack: SlackBot,
) -> None:
    """Only a message that starts with @copbot asks it something: one that names copbot in
    passing ("Hey @copbot help", "as @copbot asked") is a reply, kept and left alone."""
    root = await prompt(slack)
    words = f"Hey <@{BOT_USER}> help"
    for envelope in delivered(root, "1700000200.000400", words, 4):
        assert (await slack.event(envelope)).status == 200
    assert await slack.until(lambda: archive(slack)) == ["Hey @copbot help"]
    await slack.until(lambda: _settled(slack))
    # Neither help's answer nor a note: people name copbot in passing.
    assert [c.method for c in slack.fake.calls if "U1SAM" in str(c.args)] == ["users.info"]


def edited(root: str, ts: str, before: str, after: str, n: int) -> dict[str, Any]:
    """Sam's edit of the reply ``ts`` in the thread of ``root``."""
    envelope = copy.deepcopy(fixture("message_changed"))
    event = envelope["event"]
    event["message"] |= {"ts": ts, "thread_ts": root, "text": after}
    event["message"]["edited"]["ts"] = f"{float(ts) + 50:.6f}"
    event["previous_message"] |= {"ts": ts, "thread_ts": root, "text": before}
    event |= {"ts": f"{float(ts) + 50:.6f}", "event_ts": f"{float(ts) + 50:.6f}"}
    envelope["event_id"] = f"Ev{n}CHANGED"
    return envelope


async def test_a_reply_edited_into_a_command_leaves_the_archive(slack: SlackBot) -> None:
    """copbot runs no edit, and keeps no command: a reply edited to ask copbot something
    (whether it named copbot before or not) is taken out of the archive; a command edited
    into conversation is kept as any reply."""
    root = await prompt(slack)
    thanks = f"<@{BOT_USER}> {THANKS}"
    for envelope in delivered(root, "1700000200.000500", thanks, 5):
        assert (await slack.event(envelope)).status == 200
    plain = copy.deepcopy(fixture("message_thread_reply"))
    plain["event"] |= {"ts": "1700000200.000600", "thread_ts": root, "text": "Plain words"}
    plain["event_id"] = "Ev6PLAIN"
    assert (await slack.event(plain)).status == 200
    asked = f"<@{BOT_USER}> search bias"
    for envelope in delivered(root, "1700000200.000700", asked, 7):
        assert (await slack.event(envelope)).status == 200
    assert await slack.until(lambda: len(archive(slack)) == 2)
    later = f"<@{BOT_USER}> search Sam's notes"
    for envelope in (
        edited(root, "1700000200.000500", thanks, later, 8),
        edited(root, "1700000200.000600", "Plain words", later, 9),
        edited(root, "1700000200.000700", asked, f"<@{BOT_USER}> that search helped", 10),
    ):
        assert (await slack.event(envelope)).status == 200
    await slack.until(lambda: _settled(slack))
    assert await slack.until(lambda: archive(slack) == ["@copbot that search helped"])


async def test_a_verb_written_with_a_comma_after_it_is_the_command(slack: SlackBot) -> None:
    """ "@copbot optout, please don't keep what I write" opts Sam out, as `/cop optout`
    would, and its words are not kept: the comma doesn't hide the verb, nor the apostrophe
    open a quote."""
    root = await prompt(slack)
    words = "optout, please don't keep what I write"
    for envelope in delivered(root, "1700000200.000950", f"<@{BOT_USER}> {words}", 10):
        assert (await slack.event(envelope)).status == 200
    await slack.fake.until(lambda: "I won't keep what you write from now on" in answers(slack))
    await slack.until(lambda: _settled(slack))
    assert archive(slack) == []
    assert "part of the conversation" not in answers(slack)
