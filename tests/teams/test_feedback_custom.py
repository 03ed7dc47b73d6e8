"""A round with a facilitator's own questions on Teams, through botbuilder and the fake
connector: opened from the one-button card `@copbot feedback open` sends to the
facilitator's chat, which opens the form as a dialog;
answered in a dialog whose rating is 1 to 5 and whose choice is a choice set; and the open
rounds offered in the 1:1 chat to someone who writes "feedback" there."""

from __future__ import annotations

import json
from typing import Any

from bot.feedback_messages import ANSWER, ANSWER_FORM
from bot.services.feedback_forms import OPEN_FORM
from tests.teams.conftest import ADMIN, TeamsBot, open_dialog
from tests.teams.fake_connector import NORTH, TEAM, TENANT
from tests.teams.test_dialogs import bot_submit, dialog_card, submit_data
from tests.teams.test_feedback_proof import account, form_data, kept, press, submit

QUESTIONS = (
    "rating: How useful was it?\n"
    "choice: Which part helped most? | The film | Small groups | The talk\n"
    "short: One word for it (optional)"
)
PRIYA = "aad-priya-0002"


def command(bot: TeamsBot, text: str, ident: str) -> dict[str, Any]:
    return bot.activity(
        "channel_command",
        id=ident,
        text=f"<at>copbot</at> {text}",
        **{"from": ADMIN},
        conversation={
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": TENANT,
            "id": f"{NORTH};messageid={ident}",
        },
    )


def card_of(call: Any) -> dict[str, Any]:
    return dict(call.body["attachments"][0]["content"])


def answer_buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a
        for b in card["body"]
        if b["type"] == "ActionSet"
        for a in b["actions"]
        if a["data"].get("action") == ANSWER
    ]


async def test_a_round_of_ones_own_questions_is_opened_from_a_card_and_answered(
    teams: TeamsBot,
) -> None:
    await teams.install()
    assert (await teams.send(command(teams, "feedback open", "1700000009100"))).status == 200
    [opener] = await teams.until(lambda: teams.fake.of("send"))
    form = await open_dialog(teams, opener, **{"from": ADMIN})
    data = submit_data(form)
    assert data["form"] == OPEN_FORM and data["channel"] == NORTH

    bad = bot_submit(
        teams, data, "f:bad", ADMIN, title="Workshop 6", questions="choice: Which? | Only"
    )
    again = dialog_card(await (await teams.send(bad)).json())
    assert "needs at least two options" in json.dumps(again)
    assert not teams.rows("select * from feedback_rounds")

    good = bot_submit(
        teams, data, "f:good", ADMIN, title="Workshop 6", min="3", questions=QUESTIONS
    )
    closed = await (await teams.send(good)).json()
    assert closed["task"]["type"] == "message"

    def announced() -> list[Any]:
        return [c for c in teams.fake.of("create") if "Workshop 6" in json.dumps(c.body)]

    [post] = await teams.until(announced)
    card = post.body["activity"]["attachments"][0]["content"]
    assert "three short questions" in json.dumps(card)
    [button] = answer_buttons(card)
    round_id = int(button["data"]["value"])

    answer = await press(teams, PRIYA, round_id, post.activity_id)
    dialog = answer["task"]["value"]["card"]["content"]
    inputs = {b["id"]: b for b in dialog["body"] if b.get("id", "").startswith("f.")}
    assert inputs["f.q1"]["type"] == "Input.ChoiceSet"
    assert [c["value"] for c in inputs["f.q1"]["choices"]] == ["1", "2", "3", "4", "5"]
    assert inputs["f.q2"]["type"] == "Input.ChoiceSet"
    assert [c["value"] for c in inputs["f.q2"]["choices"]] == [
        "The film",
        "Small groups",
        "The talk",
    ]
    assert inputs["f.q3"]["isRequired"] is False and inputs["f.q2"]["isRequired"] is True

    values = {"q1": "2", "q2": "The talk", "q3": "thoughtful"}
    thanked = await submit(teams, PRIYA, post.activity_id, form_data(answer), values)
    assert thanked["task"]["type"] == "message"
    [stored] = await teams.until(lambda: kept(teams))
    assert json.loads(stored) == values


async def test_feedback_in_the_one_to_one_chat_offers_the_open_rounds(teams: TeamsBot) -> None:
    await teams.install()
    opening = command(teams, 'feedback open "Workshop 7"', "1700000009200")
    assert (await teams.send(opening)).status == 200
    await teams.until(lambda: [c for c in teams.fake.of("create") if "Workshop 7" in str(c.body)])

    personal = teams.activity("personal_command", text="feedback", **{"from": account(PRIYA)})
    assert (await teams.send(personal)).status == 200

    def in_her_chat() -> list[Any]:
        return [c for c in teams.fake.of("send") if c.conversation == "a:1personal-chat-with-sam"]

    [listing] = await teams.until(in_her_chat)
    card = card_of(listing)
    assert "Workshop 7" in json.dumps(card)
    [button] = answer_buttons(card)
    assert button["data"]["msteams"] == {"type": "task/fetch"}

    # Its button opens the anonymous dialog, from the 1:1 chat.
    data = {"msteams": {"type": "task/fetch"}, "copbot": "action", "action": ANSWER}
    value = {"type": "task/fetch", "data": data | {"value": button["data"]["value"]}}
    fetch = teams.activity(
        "task_fetch",
        id="f:dm-1",
        value=value | {"context": {}},
        conversation={
            "conversationType": "personal",
            "tenantId": TENANT,
            "id": "a:1personal-chat-with-sam",
        },
        **{"from": account(PRIYA)},
    )
    response = await teams.send(fetch)
    assert response.status == 200
    assert form_data(await response.json())["form"] == ANSWER_FORM


async def test_a_form_naming_a_place_copbot_did_not_sign_is_not_believed(
    teams: TeamsBot,
) -> None:
    """The form's data names where it was opened; altered to name another channel, its seal
    no longer fits, and the round is not announced or filed there."""
    await teams.install()
    assert (await teams.send(command(teams, "feedback open", "1700000009300"))).status == 200
    [opener] = await teams.until(lambda: teams.fake.of("send"))
    data = submit_data(await open_dialog(teams, opener, **{"from": ADMIN}))
    assert data["channel"] == NORTH and data["seal"]
    forged = data | {"channel": TEAM}  # General, where the form was never opened
    sent = bot_submit(teams, forged, "f:forged", ADMIN, title="Forged round", questions=QUESTIONS)
    assert (await (await teams.send(sent)).json())["task"]["type"] == "message"
    [(channel,)] = await teams.until(lambda: teams.rows("select channel_id from feedback_rounds"))
    assert channel != TEAM
    assert not [
        c
        for c in teams.fake.of("create") + teams.fake.of("send")
        if "Forged round" in json.dumps(c.body)
        and TEAM in c.conversation + json.dumps(c.body.get("channelData"))
    ]
