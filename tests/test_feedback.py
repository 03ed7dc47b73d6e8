"""Anonymous feedback rounds on the fake platform: open, answer once, results from k,
close (destroying who answered), and bad input refused in the form with nothing stored."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.feedback import DEFAULT_QUESTIONS, QuestionKind, Round, RoundState, Ticket, summarise
from bot.feedback_messages import ANSWER, ANSWER_FORM, THANKS
from bot.model import Buttons, Form, FormSubmitted, Origin, Role, UserRef
from bot.ports import FormInvalid
from bot.services.feedback_answers import ALREADY, CLOSED, FORGED
from tests.support.harness import ALEX, GENERAL, PRIYA, SAM, Harness
from tests.test_anonymity import stored_bytes

PEOPLE = [UserRef("test", f"person{n}", f"Person {n}") for n in range(1, 7)]


def answer_values(n: int, **overrides: str) -> dict[str, str]:
    values = {
        "useful": str(1 + n % 5),
        "impactful": f"impactful words number {n}",
        "change": f"change words number {n}",
        "else": "",
    }
    return values | overrides


async def open_round(bot: Harness, extra: str = "") -> int:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    sent = await bot.command(f'feedback open "Race equity workshop 3"{extra}', PRIYA)
    [post] = [s for s in sent if s.kind == "post"]
    [buttons] = [b for b in post.message.blocks if isinstance(b, Buttons)]  # type: ignore[union-attr]
    [button] = buttons.buttons
    assert button.action_id == ANSWER and button.label == "Answer anonymously"
    return int(button.value)


async def form_for(bot: Harness, user: UserRef, round_id: int) -> Form | str:
    """Press the round's button as ``user``: the form opened, or the private answer."""
    sent = await bot.press(ANSWER, str(round_id), user)
    forms = [s.form for s in sent if s.kind == "form"]
    if forms:
        assert forms[0] is not None
        return forms[0]
    [answer] = [s for s in sent if s.kind == "respond"]
    return answer.text


async def submit(bot: Harness, form: Form, values: dict[str, str]) -> None:
    """What an adapter does with an anonymous form: the person is gone before the event."""
    origin = Origin(UserRef("test", "ignored"), GENERAL).anonymised()
    await bot.deliver(
        FormSubmitted(
            bot.event_id(), origin, form.id, tuple(values.items()), bot.clock.now(), form.context
        )
    )


async def answer(bot: Harness, user: UserRef, round_id: int, values: dict[str, str]) -> None:
    form = await form_for(bot, user, round_id)
    assert isinstance(form, Form), form
    await submit(bot, form, values)


async def test_a_round_is_announced_with_a_button_and_the_form_says_it_is_anonymous(
    bot: Harness,
) -> None:
    round_id = await open_round(bot)
    form = await form_for(bot, SAM, round_id)
    assert isinstance(form, Form)
    assert form.id == ANSWER_FORM and form.anonymous and form.thanks == THANKS
    assert "nobody, admins included, can see who wrote it" in form.intro
    assert "cannot hide" in form.intro and "write your name" in form.intro
    # Honest about the platform: it carries the answer, with the name, not only the opening.
    assert "carries what you send, with your name" in form.intro
    assert [f.label for f in form.fields] == [q.label for q in DEFAULT_QUESTIONS]
    assert SAM.id not in form.context  # the ticket holds a keyed hash, not the person
    listing = await bot.reply_text("feedback", SAM)
    assert "Race equity workshop 3" in listing


async def test_staff_cannot_open_a_round(bot: Harness) -> None:
    text = await bot.reply_text('feedback open "Mine"', SAM)
    assert "for facilitators and admins" in text
    assert not bot.rows("select * from feedback_rounds")


async def test_one_answer_per_person_and_a_second_try_is_told_kindly(bot: Harness) -> None:
    round_id = await open_round(bot)
    first = await form_for(bot, SAM, round_id)
    second = await form_for(bot, SAM, round_id)  # two forms open at once
    assert isinstance(first, Form) and isinstance(second, Form)
    await submit(bot, first, answer_values(1))
    with pytest.raises(FormInvalid) as refused:
        await submit(bot, second, answer_values(2))
    assert list(refused.value.errors.values()) == [ALREADY]
    assert await form_for(bot, SAM, round_id) == ALREADY  # the button says so too
    assert len(bot.rows("select * from feedback_answers")) == 1
    [(stored,)] = bot.rows("select answers from feedback_answers")
    assert "number 1" in str(stored) and "number 2" not in str(stored)


async def test_answers_keep_no_person_channel_day_or_time_of_day(bot: Harness) -> None:
    round_id = await open_round(bot)
    opened = bot.clock.now().date().isoformat()
    for n, person in enumerate(PEOPLE[:3]):
        # One answers days after the others: their day would pick their answer out.
        bot.clock.advance(timedelta(days=3 if n == 2 else 0))
        await answer(bot, person, round_id, answer_values(n))
    answers = bot.rows("select * from feedback_answers")
    assert len(answers) == 3
    for key, stored_round, on, _ in answers:
        assert len(str(key)) == 32 and stored_round == round_id
        assert on == opened  # the round's day, for every answer: never when it was given
    # The hashes are apart from the answers, and are not the identities.
    hashes = bot.rows("select * from feedback_answered")
    assert len(hashes) == 3 and all(isinstance(h, bytes) for _, h in hashes)
    data = Path(bot.core.db.path).read_bytes() + Path(f"{bot.core.db.path}-wal").read_bytes()
    assert b"impactful words number 0" in data
    for person in PEOPLE[:3]:
        assert person.identity.encode() not in data and person.name.encode() not in data


async def test_results_show_only_once_the_round_closes_with_k_answers(bot: Harness) -> None:
    round_id = await open_round(bot, " min 3")
    for n, person in enumerate(PEOPLE[:2]):
        await answer(bot, person, round_id, answer_values(n, useful="4"))
    hidden = await bot.reply_text(f"feedback results {round_id}", PRIYA)
    assert "2 answers" in hidden and "Results show once the round closes" in hidden
    assert "impactful words" not in hidden
    await answer(bot, PEOPLE[2], round_id, answer_values(2, useful="1"))
    # k answers, but still open: results read now and after one more answer would show
    # what that one person said, so only the count shows.
    still = await bot.reply_text(f"feedback results {round_id}", PRIYA)
    assert "3 answers" in still and "impactful words" not in still and "mean" not in still
    closed = await bot.reply_text(f"feedback close {round_id}", PRIYA)
    assert f"feedback results {round_id}` shows the results" in closed
    shown = await bot.reply_text(f"feedback results {round_id}", PRIYA)
    assert "3 answers" in shown and "mean 3.00" in shown
    assert "1: 1 · 2: 0 · 3: 0 · 4: 2 · 5: 0" in shown
    for n in range(3):
        assert f"impactful words number {n}" in shown


async def test_a_round_closed_below_k_says_its_results_stay_hidden(bot: Harness) -> None:
    round_id = await open_round(bot, " min 3")
    await answer(bot, SAM, round_id, answer_values(1))
    closed = await bot.reply_text(f"feedback close {round_id}", PRIYA)
    assert "fewer than 3 answers, its results stay hidden" in closed
    assert "feedback results" not in closed  # nothing to point at
    hidden = await bot.reply_text(f"feedback results {round_id}", PRIYA)
    assert "closed with 1 answer, fewer than the 3 needed" in hidden
    assert "impactful words" not in hidden


async def test_a_round_not_found_points_past_the_open_rounds_to_every_round(
    bot: Harness,
) -> None:
    # `feedback` lists only open rounds: a facilitator looking for a closed one is told
    # where every round is, rather than sent to a list that can't hold it.
    round_id = await open_round(bot)
    await bot.command(f"feedback close {round_id}", PRIYA)
    assert "There are no feedback rounds open right now." in await bot.reply_text("feedback", PRIYA)
    missing = await bot.reply_text(f"feedback results {round_id + 1}", PRIYA)
    assert missing == (
        f"There's no round {round_id + 1}. `/cop feedback` lists the rounds open now, and "
        "the console's Feedback page lists every round (`/cop console` sends you a link)."
    )


async def test_k_is_fixed_once_the_first_answer_is_in(bot: Harness) -> None:
    round_id = await open_round(bot)
    assert "if at least 7 people" in await bot.reply_text(f"feedback min {round_id} 7", PRIYA)
    assert "at least 3" in await bot.reply_text(f"feedback min {round_id} 2", PRIYA)
    await answer(bot, SAM, round_id, answer_values(1))
    refused = await bot.reply_text(f"feedback min {round_id} 3", PRIYA)
    assert "has answers already" in refused and "needing 7" in refused


async def test_k_of_a_closed_round_stays_as_it_closed_with_or_without_answers(
    bot: Harness,
) -> None:
    empty = await open_round(bot)
    await bot.reply_text(f"feedback close {empty}", PRIYA)
    refused = await bot.reply_text(f"feedback min {empty} 7", PRIYA)
    assert f"Round {empty} has closed" in refused and "with no answers" in refused
    assert "once it closes" not in refused
    answered = await open_round(bot, " min 3")
    await answer(bot, SAM, answered, answer_values(1))
    await bot.reply_text(f"feedback close {answered}", PRIYA)
    refused = await bot.reply_text(f"feedback min {answered} 4", PRIYA)
    assert f"Round {answered} has closed" in refused and "with 1 answer" in refused
    assert bot.rows("select threshold from feedback_rounds order by id") == [(5,), (3,)]


async def test_closing_destroys_the_key_and_who_answered(bot: Harness) -> None:
    round_id = await open_round(bot)
    late = await form_for(bot, PEOPLE[1], round_id)
    await answer(bot, SAM, round_id, answer_values(1))
    assert bot.rows("select * from feedback_keys") and bot.rows("select * from feedback_answered")
    closed = await bot.reply_text(f"feedback close {round_id}", PRIYA)
    assert "Closed round" in closed and "1 answer" in closed
    assert not bot.rows("select * from feedback_keys")
    assert not bot.rows("select * from feedback_answered")
    assert len(bot.rows("select * from feedback_answers")) == 1  # the answers stay
    assert await form_for(bot, PEOPLE[2], round_id) == CLOSED
    assert isinstance(late, Form)
    with pytest.raises(FormInvalid) as refused:  # a form opened before it closed
        await submit(bot, late, answer_values(2))
    assert list(refused.value.errors.values()) == [CLOSED]
    assert len(bot.rows("select * from feedback_answers")) == 1


async def test_a_round_closes_itself_after_its_closing_day(bot: Harness) -> None:
    round_id = await open_round(bot, " closes 2026-11-26")  # the clock says 25 Nov 2026
    assert bot.rows("select state from feedback_rounds") == [("open",)]
    await bot.tick(timedelta(days=1, hours=12))
    assert bot.rows("select state from feedback_rounds") == [("open",)]  # 26th, 21:00
    await bot.tick(timedelta(hours=3, minutes=1))
    assert bot.rows("select state from feedback_rounds") == [("closed",)]
    assert not bot.rows("select * from feedback_keys")
    assert await form_for(bot, SAM, round_id) == CLOSED


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        (answer_values(1, useful="7"), "useful", "from 1 to 5"),
        (answer_values(1, useful="٣"), "useful", "from 1 to 5"),
        (answer_values(1, impactful=""), "impactful", "Please answer"),
        (answer_values(1, change=" \n "), "change", "Please answer"),
        (answer_values(1, change="x" * 3001), "change", "3,001 characters"),
    ],
    ids=["rating-out-of-scale", "rating-not-ascii", "required-empty", "required-blank", "too-long"],
)
async def test_bad_answers_keep_the_form_open_and_store_nothing(
    bot: Harness, values: dict[str, str], field: str, words: str
) -> None:
    round_id = await open_round(bot)
    form = await form_for(bot, SAM, round_id)
    assert isinstance(form, Form)
    with pytest.raises(FormInvalid) as refused:
        await submit(bot, form, values)
    assert words in refused.value.errors[field]
    assert not bot.rows("select * from feedback_answers")
    assert not bot.rows("select * from feedback_answered")
    await submit(bot, form, answer_values(1))  # fixed, it goes in
    assert len(bot.rows("select * from feedback_answers")) == 1


async def test_forged_and_unknown_tickets_are_refused(bot: Harness) -> None:
    round_id = await open_round(bot)
    form = await form_for(bot, SAM, round_id)
    assert isinstance(form, Form)
    ticket = Ticket.decode(form.context)
    assert ticket is not None
    other = dataclasses.replace(ticket, hash=bytes(32))  # a made-up person, same tag
    forgeries = {
        "garbled": "not a ticket",
        "made-up person": other.encode(),
        "unknown round": dataclasses.replace(ticket, round_id=round_id + 9).encode(),
    }
    for name, context in forgeries.items():
        with pytest.raises(FormInvalid) as refused:
            await submit(bot, dataclasses.replace(form, context=context), answer_values(1))
        assert list(refused.value.errors.values()) == [FORGED], name
    assert await form_for(bot, SAM, round_id + 9) == CLOSED
    assert await form_for(bot, SAM, "x" * 30) == CLOSED  # type: ignore[arg-type]
    assert not bot.rows("select * from feedback_answers")


async def test_a_submission_refused_after_its_check_still_leaves_the_log(
    bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round closed, or its ticket turned out bad, between the check and the keeping:
    the submission was in the inbox a moment ago, ticket beside answers, so the write-ahead
    log is folded all the same, as it is when an answer is kept."""
    from bot.interaction import Interaction
    from bot.services.feedback import FeedbackFeature

    answers = bot.core.feature(FeedbackFeature)._answers
    folded: list[str] = []
    forget = answers._repo.forget_traces

    async def counted() -> None:
        folded.append("folded")
        await forget()

    monkeypatch.setattr(answers._repo, "forget_traces", counted)
    origin = Origin(UserRef.anonymous("test"), GENERAL).anonymised()
    ix = Interaction(origin, Role.STAFF, bot.core.chat)
    for context in ("not a ticket", Ticket(999, bytes(32), bytes(16)).encode()):
        event = FormSubmitted("f-late", origin, ANSWER_FORM, (), bot.clock.now(), context)
        await answers.answered(ix, event)
    assert folded == ["folded", "folded"]
    assert not bot.rows("select * from feedback_answers")


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ('feedback open "T" closes 2026-13-01', "isn't a date"),
        ('feedback open "T" closes 2020-01-01', "1 Jan 2020 has passed"),
        ('feedback open "T" closes 9999-12-31', "more than five years away"),
        ('feedback open "T" min 2', "at least 3"),
        ('feedback open "T" soon', "I don't know `soon`. Put the title in quotes"),
        ("feedback open Reflection session", "I don't know `session`. Put the title in quotes"),
        ('feedback open "T" closes', "`closes` needs a value after it, like `closes 2026-12-01`"),
        ('feedback open "T" min', "`min` needs a value after it, like `min 5`"),
        ('feedback open "T" when 2026-12-01', "I don't know `when`"),
        (f'feedback open "{"t" * 151}"', "150 characters"),
        ("feedback results 99", "no round 99"),
        ("feedback results x", "isn't a round's number"),
    ],
)
async def test_bad_commands_are_explained_and_change_nothing(
    bot: Harness, command: str, words: str
) -> None:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    assert words in await bot.reply_text(command, PRIYA)
    assert not bot.rows("select * from feedback_rounds")


def test_summary_counts_and_shuffles() -> None:
    from datetime import UTC, datetime
    from random import Random

    round_ = Round(1, "T", DEFAULT_QUESTIONS, 3, RoundState.CLOSED, datetime.now(UTC))
    answers = [answer_values(n, useful=str(n + 1)) for n in range(4)]
    assert not summarise(dataclasses.replace(round_, state=RoundState.OPEN), answers).shown
    results = summarise(round_, answers, Random(3))
    assert results.shown and results.count == 4
    rating = results.questions[0]
    assert rating.question.kind is QuestionKind.RATING and rating.mean == 2.5
    texts = results.questions[1].texts
    assert sorted(texts) == sorted(a["impactful"] for a in answers)
    assert results.questions[3].answered == 0
    assert not summarise(round_, answers[:2]).shown


async def test_the_command_line_lists_shows_and_exports_only_from_k(bot: Harness) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    round_id = await open_round(bot, " min 3")
    for n, person in enumerate(PEOPLE[:2]):
        await answer(bot, person, round_id, answer_values(n, impactful=f"=SUM(A{n})"))
    db = str(bot.core.db.path)

    async def run(_: object, words: list[str]) -> Any:
        # The command line runs its own event loop: off this one, in a thread.
        return await asyncio.to_thread(CliRunner().invoke, cli, words)

    listed = await run(cli, ["feedback", "list", "--db", db])
    assert (
        listed.exit_code == 0
        and "2 answer(s)" in listed.output
        and "results from 3" in listed.output
    )
    hidden = await run(cli, ["feedback", "results", str(round_id), "--format", "json", "--db", db])
    assert json.loads(hidden.output)["shown"] is False and "SUM" not in hidden.output
    empty = await run(cli, ["feedback", "export", str(round_id), "--format", "json", "--db", db])
    assert json.loads(empty.output)["answers"] == []
    assert "at least 3" in json.loads(empty.output)["empty_because"]

    await answer(bot, PEOPLE[2], round_id, answer_values(2, useful="5"))
    await bot.reply_text(f"feedback close {round_id}", PRIYA)
    shown = json.loads(
        (
            await run(cli, ["feedback", "results", str(round_id), "--format", "json", "--db", db])
        ).output
    )
    assert shown["shown"] and shown["questions"][0]["distribution"]["5"] == 1
    exported = await run(cli, ["feedback", "export", str(round_id), "--format", "csv", "--db", db])
    lines = exported.output.splitlines()
    assert lines[0] == "useful,impactful,change,else" and len(lines) == 4
    assert "'=SUM(A0)" in exported.output  # no spreadsheet formula
    table = await run(cli, ["feedback", "results", str(round_id), "--db", db])
    assert "mean" in table.output and "change words number 2" in table.output
    missing = await run(cli, ["feedback", "results", "77", "--db", db])
    assert missing.exit_code == 1 and "no feedback round 77" in missing.output


async def test_a_press_refused_leaves_no_trace_of_who_pressed(bot: Harness) -> None:
    round_id = await open_round(bot)
    await bot.reply_text(f"feedback close {round_id}", PRIYA)
    assert await form_for(bot, SAM, round_id) == CLOSED
    assert "on its own" in await bot.reply_text("feedback please", SAM)
    # Both named Sam in the inbox until they were handled: gone from the file and its log.
    assert SAM.identity.encode() not in stored_bytes(bot.core.db.path)
