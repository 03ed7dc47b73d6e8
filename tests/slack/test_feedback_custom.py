"""A round with a facilitator's own questions on Slack, through bolt and the fake Web API:
opened from `/cop feedback open`'s modal, its rating drawn as 1 to 5 and its choice as a
select, answered; and the open rounds offered in a direct message to copbot."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from bot.feedback_messages import ANSWER, ANSWER_FORM
from bot.services.feedback_forms import OPEN_FORM
from storage import sqlite
from tests.slack.conftest import ADMIN, SlackBot, fixture

QUESTIONS = (
    "rating: How useful was it?\n"
    "choice: Which part helped most? | The film | Small groups | The talk\n"
    "short: One word for it (optional)"
)
_ids = itertools.count(1)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def view_opened(bot: SlackBot, trigger: str) -> dict[str, Any]:
    def opened() -> list[Any]:
        return [c for c in bot.fake.of("views.open") if c.args.get("trigger_id") == trigger]

    [call] = await bot.fake.until(opened)
    return dict(_json(call.args["view"]))


def submission(user: str, view: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("view_submission"))
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["view"] |= {
        "id": f"V{next(_ids)}",
        "callback_id": view["callback_id"],
        "private_metadata": view["private_metadata"],
        "state": {"values": {k: {k: v} for k, v in state.items()}},
    }
    return payload


def typed(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


def picked(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "selected_option": {"value": value}}


async def press(bot: SlackBot, user: str, channel: str, ts: str, round_id: str) -> str:
    payload = copy.deepcopy(fixture("block_actions"))
    trigger = f"trigger-custom-{next(_ids)}"
    payload["user"] = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T1"}
    payload["trigger_id"] = trigger
    payload["channel"] = {"id": channel, "name": "directmessage" if channel[0] == "D" else "north"}
    payload["container"] |= {"channel_id": channel, "message_ts": ts, "thread_ts": None}
    payload["message"] |= {"ts": ts, "thread_ts": None}
    payload["actions"][0] |= {"action_id": ANSWER, "value": round_id}
    assert (await bot.interact(payload)).status == 200
    return trigger


def answer_button(call: Any) -> dict[str, Any]:
    blocks = _json(call.args["blocks"])
    [button] = [
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == ANSWER
    ]
    return dict(button)


def rows_naming(bot: SlackBot, trace: str) -> list[str]:
    """The tables with a row holding ``trace``."""
    conn = sqlite.connect(bot.db_path)
    try:
        tables = [t for (t,) in conn.execute("select name from sqlite_master where type='table'")]
        return [
            t
            for t in tables
            if any(trace in str(row) for row in conn.execute(f"select * from [{t}]").fetchall())
        ]
    finally:
        conn.close()


def kept(bot: SlackBot) -> list[dict[str, str]]:
    conn = sqlite.connect(bot.db_path)
    try:
        return [json.loads(r[0]) for r in conn.execute("select answers from feedback_answers")]
    finally:
        conn.close()


async def test_a_round_of_ones_own_questions_is_opened_in_a_modal_and_answered(
    slack: SlackBot,
) -> None:
    assert (await slack.command("feedback open", user=ADMIN, trigger="t-open")).status == 200
    form = await view_opened(slack, "t-open")
    assert form["callback_id"] == OPEN_FORM
    assert [b["block_id"] for b in form["blocks"] if b["type"] == "input"] == [
        "title",
        "closes",
        "min",
        "questions",
    ]

    bad = submission(ADMIN, form, {"title": typed("Workshop 6"), "questions": typed("poll: X?")})
    refused = await slack.interact(bad)
    errors = (await refused.json())["errors"]
    assert list(errors) == ["questions"] and "`poll` isn't a kind" in errors["questions"]
    assert not slack.fake.of("chat.postMessage")  # nothing opened, nothing announced

    good = submission(
        ADMIN,
        form,
        {"title": typed("Workshop 6"), "min": typed("3"), "questions": typed(QUESTIONS)},
    )
    assert (await slack.interact(good)).status == 200
    [post] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    assert post.args["channel"] == "C1NORTH"
    assert "three short questions" in json.dumps(post.args["blocks"])
    round_id = answer_button(post)["value"]

    trigger = await press(slack, "U1SAM", "C1NORTH", str(post.answer["ts"]), round_id)
    modal = await view_opened(slack, trigger)
    assert modal["callback_id"] == ANSWER_FORM
    inputs = {b["block_id"]: b for b in modal["blocks"] if b["type"] == "input"}
    assert inputs["q1"]["element"]["type"] == "radio_buttons"
    assert [o["value"] for o in inputs["q1"]["element"]["options"]] == ["1", "2", "3", "4", "5"]
    assert inputs["q2"]["element"]["type"] == "static_select"
    assert [o["value"] for o in inputs["q2"]["element"]["options"]] == [
        "The film",
        "Small groups",
        "The talk",
    ]
    assert inputs["q3"].get("optional") is True and "optional" not in inputs["q2"]

    answer = {
        "q1": picked("radio_buttons", "5"),
        "q2": picked("static_select", "Small groups"),
        "q3": typed(""),
    }
    assert (await slack.interact(submission("U1SAM", modal, answer))).status == 200
    [stored] = await slack.until(lambda: kept(slack))
    assert stored == {"q1": "5", "q2": "Small groups", "q3": ""}


async def test_feedback_in_a_direct_message_offers_the_open_rounds(slack: SlackBot) -> None:
    assert (await slack.command('feedback open "Workshop 7"', user=ADMIN)).status == 200
    [announced] = await slack.fake.until(lambda: slack.fake.of("chat.postMessage"))
    round_id = answer_button(announced)["value"]

    envelope = fixture("message_im")
    envelope["event"]["text"] = "feedback"
    assert (await slack.event(envelope)).status == 200

    def in_the_dm() -> list[Any]:
        return [c for c in slack.fake.of("chat.postMessage") if c.args["channel"] == "DU1SAM"]

    [listing] = await slack.fake.until(in_the_dm)
    assert "Workshop 7" in json.dumps(listing.args["blocks"])
    assert answer_button(listing)["value"] == round_id

    # The button in the direct message opens the same anonymous form.
    trigger = await press(slack, "U1SAM", "DU1SAM", str(listing.answer["ts"]), round_id)
    modal = await view_opened(slack, trigger)
    assert modal["callback_id"] == ANSWER_FORM
    assert json.loads(modal["private_metadata"]).get("anonymous") is True

    # Answered from there, nothing keeps Sam or his direct conversation.
    answer = {
        "useful": picked("radio_buttons", "4"),
        "impactful": typed("said from the direct message"),
        "change": typed("nothing"),
        "else": typed(""),
    }
    assert (await slack.interact(submission("U1SAM", modal, answer))).status == 200
    await slack.until(lambda: kept(slack))
    # Asking for the forms ("feedback") is not noted against Sam, unlike other commands:
    # no row names him or his direct conversation.
    assert rows_naming(slack, "U1SAM") == []
    assert rows_naming(slack, "DU1SAM") == []
    [stored] = kept(slack)
    assert stored["impactful"] == "said from the direct message"
