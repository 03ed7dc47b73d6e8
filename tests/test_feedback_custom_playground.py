"""A round with a facilitator's own questions in the playground, through its HTTP API and the
whole core: opened from `/cop feedback open`'s form (mistakes shown there), its rating drawn
as 1 to 5 and its choice as a select, answered; and the open rounds offered to someone who
writes "feedback" in their direct conversation with copbot."""

from __future__ import annotations

import re
from pathlib import Path

from bot.feedback_messages import ANSWER
from tests.test_feedback_proof import Client, _said, kept, pg

QUESTIONS = (
    "rating: How useful was it?\n"
    "choice: Which part helped most? | The film | Small groups | The talk\n"
    "short: One word for it (optional)"
)
BUTTON = re.compile(rf'data-action="{re.escape(ANSWER)}"[^>]*data-value="(\d+)"')

__all__ = ["pg"]  # the fixture, shared with the proof


async def buttons(pg: Client, who: str, channel: str) -> list[tuple[str, int]]:
    """(message id, round id) of every "Answer anonymously" button ``who`` sees there."""
    return [
        (m["id"], int(v.group(1)))
        for m in (await pg.state(who, channel))["messages"]
        if (v := BUTTON.search(m["html"]))
    ]


async def form_html(pg: Client, who: str, token: str) -> str:
    state = await pg.state(who)
    [html] = [f["html"] for f in state["forms"] if f["token"] == token]
    return str(html)


async def test_a_round_of_ones_own_questions_is_opened_in_a_form_and_answered(
    pg: Client, db_path: Path
) -> None:
    tokens: set[str] = set()
    status, _ = await pg.post(
        "/messages", {"as": "priya", "channel": "north", "text": "/cop feedback open"}
    )
    assert status == 200
    opening = await pg.form("priya", tokens)
    assert 'name="questions"' in await form_html(pg, "priya", opening)

    status, refused = await pg.submit(
        "priya", opening, {"title": "Workshop 6", "questions": "rating: Useful? | 1 | 2"}
    )
    assert status == 422
    assert list(refused["errors"]) == ["questions"]
    assert "only a choice question has options" in refused["errors"]["questions"]
    assert not await buttons(pg, "sam", "north")

    values = {"title": "Workshop 6", "closes": "", "min": "3", "questions": QUESTIONS}
    assert (await pg.submit("priya", opening, values))[0] == 200
    [(message_id, round_id)] = await pg.until(lambda: buttons(pg, "sam", "north"))
    assert await _said(pg, "sam", "three short questions")

    await pg.press("sam", message_id, round_id)
    answering = await pg.form("sam", tokens)
    html = await form_html(pg, "sam", answering)
    assert re.findall(r'name="q1" value="(\d)"', html) == ["1", "2", "3", "4", "5"]
    assert '<select id="f-q2" name="q2" required>' in html
    assert re.findall(r'<option value="([^"]+)">', html) == ["The film", "Small groups", "The talk"]
    [optional] = re.findall(r'<input id="f-q3"[^>]*>', html)
    assert "required" not in optional

    status, wrong = await pg.submit("sam", answering, {"q1": "6", "q2": "The film", "q3": ""})
    assert status == 422 and list(wrong["errors"]) == ["q1"]
    assert not kept(db_path)
    answer = {"q1": "3", "q2": "The film", "q3": "honest"}
    assert (await pg.submit("sam", answering, answer))[0] == 200
    assert await pg.until(lambda: _kept(db_path)) == [answer]


async def _kept(db_path: Path) -> list[dict[str, str]]:
    return kept(db_path)


async def test_feedback_in_the_direct_conversation_offers_the_open_rounds(pg: Client) -> None:
    text = '/cop feedback open "Workshop 7"'
    await pg.post("/messages", {"as": "priya", "channel": "north", "text": text})
    [(_, round_id)] = await pg.until(lambda: buttons(pg, "sam", "north"))

    status, _ = await pg.post("/messages", {"as": "sam", "channel": "@sam", "text": "feedback"})
    assert status == 200
    [(listing, offered)] = await pg.until(lambda: buttons(pg, "sam", "@sam"))
    assert offered == round_id
    assert not await buttons(pg, "noor", "@noor")  # said to Sam alone

    tokens: set[str] = set()
    await pg.press("sam", listing, round_id)
    token = await pg.form("sam", tokens)
    assert "nobody, admins included" in await form_html(pg, "sam", token)
