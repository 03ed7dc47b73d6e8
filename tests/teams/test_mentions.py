"""A reply in a prompt's thread that mentions copbot, on Teams (where a channel message
reaches copbot at all only when it mentions it, unless the team granted more): a reply
like any other, kept with the thread, and answered kindly; a real command is answered and
never kept."""

from __future__ import annotations

import json
from typing import Any

from tests.teams.conftest import TeamsBot
from tests.teams.fake_connector import NORTH
from tests.teams.test_contract import SAM, command, prompt, reply

THANKS = "thanks, I found the language prompt useful"


def mention_in_thread(bot: TeamsBot, root: str, ident: str, words: str) -> dict[str, Any]:
    """Sam's reply in the thread of ``root``, starting with a mention of copbot."""
    doc = command(bot, words, ident, SAM)
    doc["conversation"]["id"] = f"{NORTH};messageid={root}"
    doc["replyToId"] = root
    return doc


def said_to_sam(bot: TeamsBot) -> str:
    """Everything copbot sent that is not in a channel: Sam's 1:1 chat, opened or not."""
    sent = [c for c in bot.fake.calls if c.method in ("create", "send")]
    return "\n".join(
        json.dumps(c.body)
        for c in sent
        if not c.body.get("isGroup") and "19:" not in c.conversation
    )


def only_sam(bot: TeamsBot) -> list[str]:
    """What copbot sent to Sam's 1:1 chat (not the facilitator's)."""
    return [line for line in said_to_sam(bot).splitlines() if "1sam-teams-id" in line]


async def settled(bot: TeamsBot) -> None:
    await bot.until(
        lambda: bot.rows("select count(*) from inbox where state = 'pending'") == [(0,)]
    )


async def test_a_reply_that_mentions_copbot_is_kept_with_the_thread(teams: TeamsBot) -> None:
    root = await prompt(teams)
    said = mention_in_thread(teams, root, "1700000005001", THANKS)
    assert (await teams.send(said)).status == 200
    assert (await teams.send(said)).status == 200  # delivered twice: kept once
    kept = "select text, thread_id, author_id from archive_messages"
    rows = await teams.until(lambda: teams.rows(kept))
    assert rows == [(f"@copbot {THANKS}", root, "teams:aad-sam-0001")]
    # Not answered as a command copbot doesn't know (nor with a note in Sam's chat: see
    # test_thanks_to_copbot_sends_no_message_to_the_persons_chat).
    await settled(teams)
    assert "I don't know the command" not in said_to_sam(teams)


async def test_a_command_in_a_thread_is_answered_and_not_kept(teams: TeamsBot) -> None:
    root = await prompt(teams)
    asked = mention_in_thread(teams, root, "1700000005002", "search bias")
    assert (await teams.send(asked)).status == 200
    plain = reply(teams, root, "1700000005003", "<p>An ordinary reply</p>")
    assert (await teams.send(plain)).status == 200
    await teams.until(lambda: teams.rows("select 1 from archive_messages"))
    await settled(teams)
    assert teams.rows("select text from archive_messages") == [("An ordinary reply",)]
    await teams.until(lambda: "bias" in said_to_sam(teams))  # the search's answer
    assert "part of the conversation" not in said_to_sam(teams)


async def test_a_mention_in_mid_sentence_is_conversation_kept_without_a_note(
    teams: TeamsBot,
) -> None:
    """Only a message that starts with @copbot asks it something: one that names copbot in
    passing ("Hey @copbot help", "as @copbot asked") is a reply, kept and left alone."""
    root = await prompt(teams)
    passing = mention_in_thread(teams, root, "1700000005004", "")
    passing["text"] = "<p>Hey <at>copbot</at> help</p>"
    before = only_sam(teams)
    assert (await teams.send(passing)).status == 200
    kept = "select text, author_id from archive_messages"
    rows = await teams.until(lambda: teams.rows(kept))
    assert rows == [("Hey @copbot help", "teams:aad-sam-0001")]
    await settled(teams)
    assert only_sam(teams) == before  # neither help's answer nor a note


async def test_thanks_to_copbot_sends_no_message_to_the_persons_chat(teams: TeamsBot) -> None:
    """Teams has no message only one person sees: a note would be a new message in Sam's
    1:1 chat, with its notification, for having said thanks. Only a command that may have
    been mistyped is worth one, and it reads as an answer to what Sam asked."""
    root = await prompt(teams)
    before = only_sam(teams)
    thanks = mention_in_thread(teams, root, "1700000005005", THANKS)
    assert (await teams.send(thanks)).status == 200
    await teams.until(lambda: teams.rows("select 1 from archive_messages"))
    await settled(teams)
    assert only_sam(teams) == before
    mistyped = mention_in_thread(teams, root, "1700000005006", "serach bias")
    assert (await teams.send(mistyped)).status == 200
    note = await teams.until(lambda: "part of the conversation" in said_to_sam(teams))
    assert note
    [sent] = [line for line in only_sam(teams) if "part of the conversation" in line]
    assert "I took your message as part of the conversation" in sent
    assert "Did you mean @copbot search?" in sent
    assert "You asked in North" in sent


def edit(bot: TeamsBot, root: str, ident: str, html: str, stamp: str) -> dict[str, Any]:
    """Sam's edit of the message ``ident`` in the thread of ``root``."""
    doc = mention_in_thread(bot, root, ident, "")
    doc |= {"type": "messageUpdate", "text": html, "timestamp": stamp}
    doc["channelData"] = doc["channelData"] | {"eventType": "editMessage"}
    return doc


async def test_a_reply_edited_into_a_command_leaves_the_archive(teams: TeamsBot) -> None:
    """copbot runs no edit, and keeps no command: a reply edited to ask copbot something is
    taken out of the archive; a command edited into conversation is kept as any reply."""
    root = await prompt(teams)
    assert (await teams.send(mention_in_thread(teams, root, "1700000005007", THANKS))).status == 200
    asked = mention_in_thread(teams, root, "1700000005008", "search bias")
    assert (await teams.send(asked)).status == 200
    await teams.until(lambda: teams.rows("select 1 from archive_messages"))
    await settled(teams)
    later = "<at>copbot</at> search Sam's notes"
    stamp = "2026-11-30T11:00:00.000Z"
    assert (await teams.send(edit(teams, root, "1700000005007", later, stamp))).status == 200
    helped = "<at>copbot</at> that search helped"
    assert (await teams.send(edit(teams, root, "1700000005008", helped, stamp))).status == 200
    rows = await teams.until(
        lambda: teams.rows("select text from archive_messages where text like '%helped%'")
    )
    await settled(teams)
    assert rows == [("@copbot that search helped",)]
    assert teams.rows("select text from archive_messages") == rows
