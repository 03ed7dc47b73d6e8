"""Forms as Teams dialogs (task modules), through the real botbuilder wiring: a button that
opens a form asks with ``task/fetch`` and gets the dialog in the HTTP answer (no chat, so no
conversation reference, is needed); the dialog's ``task/submit`` is thanked, or shown again
with each problem beside its field and nothing kept; a slow answer is a kind "try again"."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.interaction import Interaction
from bot.model import ButtonPressed, Form, FormSubmitted, ShortText, too_long
from bot.services.prompt_forms import ADD_FORM
from bot.services.prompts import SUGGEST, SUGGEST_FORM
from bot.settings import TeamsSettings
from tests.teams.conftest import ADMIN, TeamsBot, fixture, open_dialog, serve
from tests.teams.fake_connector import NORTH, TEAM, TENANT, FakeConnector
from tests.teams.test_contract import command
from tests.test_anonymity import listen

SOUTH = "19:south@thread.tacv2"  # a channel copbot hasn't heard of yet
CARD = "application/vnd.microsoft.card.adaptive"
# Someone copbot has never talked with: no chat reference, so only a dialog can reach them.
NEWCOMER = {"id": "29:1newcomer-teams-id", "name": "Jo Newcomer", "aadObjectId": "aad-jo-0042"}


def press(bot: TeamsBot, action: str = SUGGEST, value: str = "language", **changes: Any) -> Any:
    data = {"msteams": {"type": "task/fetch"}, "copbot": "action", "action": action}
    return bot.activity(
        "task_fetch",
        value={"type": "task/fetch", "data": data | {"value": value}, "context": {}},
        **{"from": NEWCOMER},
        **changes,
    )


def submit(bot: TeamsBot, data: dict[str, Any], ident: str, **values: str) -> Any:
    return bot_submit(bot, data, ident, NEWCOMER, **values)


def bot_submit(
    bot: TeamsBot, data: dict[str, Any], ident: str, who: dict[str, str], **values: str
) -> Any:
    inputs = {f"f.{k}": v for k, v in values.items()}
    return bot.activity(
        "task_submit",
        id=ident,
        value={"type": "task/submit", "data": data | inputs, "context": {}},
        **{"from": who},
    )


def dialog_card(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["task"]["type"] == "continue", answer
    card = answer["task"]["value"]["card"]
    assert card["contentType"] == CARD
    return dict(card["content"])


def submit_data(card: dict[str, Any]) -> dict[str, Any]:
    return dict(card["actions"][0]["data"])


async def open_suggestion(bot: TeamsBot) -> dict[str, Any]:
    await bot.install()
    response = await bot.send(press(bot))
    assert response.status == 200
    return dialog_card(await response.json())


async def test_a_button_that_opens_a_form_asks_teams_for_a_dialog(teams: TeamsBot) -> None:
    await teams.install()
    await teams.send(
        teams.activity(
            "channel_command",
            id="1700000001000",
            text="<at>copbot</at> prompt language",
            **{"from": {"id": "29:1admin-teams-id", "aadObjectId": "aad-admin-0009"}},
        )
    )
    # The prompt's own post, not a hello from installing (which may come after it).
    [prompt] = await teams.until(
        lambda: [c for c in teams.fake.of("create") if SUGGEST in json.dumps(c.body)]
    )
    card = prompt.body["activity"]["attachments"][0]["content"]
    actions = [a for b in card["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    [suggest] = [a for a in actions if a["data"].get("action") == SUGGEST]
    assert suggest["data"]["msteams"] == {"type": "task/fetch"}


async def test_a_press_opens_the_form_as_a_dialog_in_the_http_answer(teams: TeamsBot) -> None:
    card = await open_suggestion(teams)
    assert submit_data(card)["form"] == SUGGEST_FORM
    assert {i.get("id") for i in card["body"]} >= {"f.topic", "f.text"}
    assert not teams.fake.of("send")  # nothing went to a chat: Jo has none with copbot
    assert not teams.rows("select 1 from teams_conversations where person = 'teams:aad-jo-0042'")


async def test_a_submit_with_a_problem_shows_the_dialog_again_and_keeps_nothing(
    teams: TeamsBot,
) -> None:
    data = submit_data(await open_suggestion(teams))
    inbox = teams.inbox_count()
    response = await teams.send(submit(teams, data, "f:1", topic="language", text=" "))
    assert response.status == 200
    card = dialog_card(await response.json())
    body = card["body"]
    [text] = [i for i, b in enumerate(body) if b.get("id") == "f.text"]
    problem = body[text + 1]
    assert problem["type"] == "TextBlock" and problem["color"] == "Attention"
    assert "question" in problem["text"].lower()
    [topic] = [b for b in body if b.get("id") == "f.topic"]
    assert topic["value"] == "language"  # what they chose is still there
    assert teams.rows("select text from prompt_suggestions") == []
    assert teams.inbox_count() == inbox
    assert not teams.fake.of("send")


async def test_words_longer_than_the_field_takes_are_refused_in_words_not_cut(
    teams: TeamsBot,
) -> None:
    """Teams need not hold an input to its maxLength: a longer answer is refused as on
    Slack and in the playground, with every word still in the dialog, and nothing kept."""
    data = submit_data(await open_suggestion(teams))
    inbox = teams.inbox_count()
    words = "What do we mean by a safe space? " * 40  # 1,320 characters; the field takes 1,000
    response = await teams.send(submit(teams, data, "f:long", topic="language", text=words))
    body = dialog_card(await response.json())["body"]
    [text] = [i for i, b in enumerate(body) if b.get("id") == "f.text"]
    assert body[text]["value"] == words.strip()  # all of it, to shorten
    assert body[text + 1]["text"] == too_long(words.strip(), 1000)
    assert "That's 1,319 characters; please keep it to 1,000" in body[text + 1]["text"]
    assert teams.rows("select text from prompt_suggestions") == []
    assert teams.inbox_count() == inbox


async def test_an_accepted_submit_closes_the_dialog_with_thanks(teams: TeamsBot) -> None:
    data = submit_data(await open_suggestion(teams))
    words = "What do we call people?"
    response = await teams.send(submit(teams, data, "f:2", topic="language", text=words))
    assert response.status == 200
    answer = await response.json()
    assert answer["task"]["type"] == "message"
    assert answer["task"]["value"] == data["thanks"]
    await teams.until(lambda: teams.rows("select text from prompt_suggestions"))
    assert teams.rows("select text from prompt_suggestions") == [(words,)]


@pytest.mark.parametrize(
    ("form", "refused"), [("prompt-add", "That form is for"), ("no-such-form", "out of date")]
)
async def test_a_refused_submit_closes_the_dialog_with_the_refusal_not_thanks(
    teams: TeamsBot, form: str, refused: str
) -> None:
    """A form for another role, or one copbot no longer offers: the dialog says so as it
    closes, rather than thanking them for what is not kept."""
    data = submit_data(await open_suggestion(teams)) | {"form": form}
    response = await teams.send(submit(teams, data, "f:3", topic="language", text="Hello"))
    answer = await response.json()
    assert answer["task"]["type"] == "message"
    assert refused in answer["task"]["value"] and data["thanks"] not in answer["task"]["value"]
    assert teams.rows("select count(*) from prompt_suggestions") == [(0,)]


async def test_a_press_answered_with_words_shows_them_in_place_of_a_dialog(
    teams: TeamsBot,
) -> None:
    await teams.install()
    response = await teams.send(press(teams, action="gone.away"))
    answer = await response.json()
    assert answer["task"]["type"] == "message"
    assert "no longer does anything" in answer["task"]["value"]
    assert not teams.fake.of("send")


async def test_a_garbled_form_description_still_gets_its_problems_said(
    teams: TeamsBot,
) -> None:
    data = submit_data(await open_suggestion(teams)) | {"spec": {"__type__": "Form", "id": 7}}
    response = await teams.send(submit(teams, data, "f:3", topic="language", text=""))
    assert response.status == 200
    answer = await response.json()
    assert answer["task"]["type"] == "message" and "another look" in answer["task"]["value"]
    assert teams.rows("select text from prompt_suggestions") == []


@pytest.fixture
async def hasty(db_path: Path, fake: FakeConnector) -> AsyncIterator[TeamsBot]:
    """Teams waiting only a moment for a dialog."""
    settings = TeamsSettings(tenants=frozenset({TENANT}))
    async for bot in serve(db_path, fake, settings, dialog_timeout=0.2):
        yield bot


async def test_a_dialog_that_is_not_ready_in_time_is_a_kind_try_again(
    hasty: TeamsBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(ix: Interaction, event: ButtonPressed) -> None:
        started.set()
        await release.wait()
        await ix.open_form(Form("late", "Late", (ShortText("x", "X"),)))

    hasty.core.registry.action("slow", slow)
    await hasty.install()
    response = await hasty.send(press(hasty, action="slow"))
    answer = await response.json()
    assert started.is_set()
    assert answer["task"] == {
        "type": "message",
        "value": "Please try again: copbot took too long to answer.",
    }
    release.set()
    await hasty.until(lambda: "came after Teams stopped waiting" in caplog.text)
    assert not hasty.fake.of("send")  # the late form is dropped, not sent somewhere else


async def test_a_dialog_opened_from_a_channel_card_answers_for_that_channel(
    teams: TeamsBot,
) -> None:
    data = submit_data(await open_suggestion(teams))
    assert data["channel"] == NORTH and data["thread"] == "1700000000001"


async def test_an_anonymous_dialog_submit_leaves_no_conversation_reference(
    teams: TeamsBot,
) -> None:
    """Not even the channel's: when its row was written would say when someone answered."""
    got: list[FormSubmitted] = []
    listen(teams.core, got)
    await teams.install()
    kept = teams.rows("select kind, key, reference, person, team, name from teams_conversations")
    data = fixture("form_submit_anonymous")["value"]
    answer = teams.activity(
        "task_submit",
        id="f:9",
        value={"type": "task/submit", "data": data, "context": {}},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{SOUTH};messageid=1700000000001",
        },
        channelData={
            "channel": {"id": SOUTH},
            "team": {"id": TEAM},
            "tenant": {"id": TENANT},
        },
        **{"from": NEWCOMER},
    )
    response = await teams.send(answer)
    assert (await response.json())["task"]["type"] == "message"
    [event] = await teams.until(lambda: got)
    assert event.origin.user.is_anonymous
    now = teams.rows("select kind, key, reference, person, team, name from teams_conversations")
    assert now == kept


async def test_a_form_opened_by_a_command_is_a_button_that_opens_it_as_a_dialog(
    teams: TeamsBot,
) -> None:
    """Teams can't open a dialog from a typed message: the command's answer is a card in
    the person's chat whose one button opens the form as a dialog, problems shown there."""
    await teams.install()
    response = await teams.send(command(teams, "prompt add", "1700000006000"))
    assert response.status == 200
    [opener] = await teams.until(lambda: teams.fake.of("send"))
    assert opener.conversation == f"a:1dm-{ADMIN['id']}"  # not the channel
    assert "Add a prompt" in json.dumps(opener.body)

    card = await open_dialog(teams, opener, **{"from": ADMIN})
    data = submit_data(card)
    assert data["form"] == ADD_FORM and data["channel"] == NORTH
    good = {
        "topic": "language",
        "title": "Names we use",
        "text": "Which words do we use for the people we support?",
        "follow_ups": "Who chose them?",
        "facilitator_note": "Go gently: some have lived these words.",
    }
    inbox = teams.inbox_count()
    answer = bot_submit(teams, data, "f:20", ADMIN, **(good | {"title": ""}))
    again = dialog_card(await (await teams.send(answer)).json())
    [title] = [i for i, b in enumerate(again["body"]) if b.get("id") == "f.title"]
    assert again["body"][title + 1]["color"] == "Attention"
    assert teams.inbox_count() == inbox  # nothing kept

    answer = bot_submit(teams, data, "f:21", ADMIN, **good)
    closed = await (await teams.send(answer)).json()
    assert closed["task"]["type"] == "message"
    await teams.until(
        lambda: "Added **Names we use**" in json.dumps([c.body for c in teams.fake.of("send")])
    )
