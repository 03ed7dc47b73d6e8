"""Huge and control-character text in every verb and every form field, from an admin (who
gets past every role check, so the handlers themselves read it): each gets an answer in
words, never the apology for a broken handler and never an error in the log. The verbs
and forms are read from the registry, so a new one is covered without a change here."""

from __future__ import annotations

import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.model import Role
from bot.ports import FormInvalid
from bot.router import SORRY
from tests.support.harness import ALEX, GENERAL, Harness

EXAMPLES = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CONTROL = st.text(st.characters(max_codepoint=0x1F) | st.sampled_from("\u202e\u2028\ufeff\x7f"))
HOSTILE = st.one_of(
    CONTROL,
    st.sampled_from(
        [
            "\x00\x1b[2J" * 2000,
            "x" * 100_000,
            '"unbalanced',
            "<@" + "U" * 5000 + ">",
            "9" * 5000,
            "#" + "c" * 3000,
            "https://" + "a" * 5000,
        ]
    ),
    st.text(max_size=40),
)
# Field ids of forms opened by a button or with context; those a verb opens are found.
FIELDS = ("text", "topic", "thoughts", "note", "useful")


def quiet(caplog: pytest.LogCaptureFixture) -> None:
    loud = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert loud == [], [r.getMessage() for r in loud]


@EXAMPLES
@given(words=st.lists(HOSTILE, min_size=1, max_size=3))
async def test_every_verb_answers_hostile_text_in_words(
    bot: Harness, words: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await bot.join(GENERAL)
    for verb in bot.core.registry.commands:
        if verb.name in ("optout",):  # forgets the admin's own commands: tried last
            continue
        sent = await bot.command(f"{verb.name} {' '.join(words)}", ALEX)
        assert sent, verb.name
        said = " ".join(s.text for s in sent)
        assert SORRY not in said, verb.name
    assert await bot.core.roles.role_of(ALEX.identity) is Role.ADMIN
    quiet(caplog)


@EXAMPLES
@given(text=HOSTILE, context=HOSTILE)
async def test_every_form_answers_hostile_text_in_every_field_in_words(
    bot: Harness, text: str, context: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fields = set(FIELDS)
    for verb in bot.core.registry.commands:  # each form a verb opens, for its field ids
        if verb.name != "optout":
            sent = await bot.command(verb.name, ALEX)
            fields.update(f.id for s in sent if s.form is not None for f in s.form.fields)
    assert {"title", "questions", "start"} <= fields
    for form in bot.core.registry.forms:
        try:
            sent = await bot.submit(form, dict.fromkeys(sorted(fields), text), ALEX, context)
        except FormInvalid as invalid:  # the form stays open, each problem in words
            assert invalid.errors and all(0 < len(e) < 1500 for e in invalid.errors.values()), {
                k: (len(v), v[:80]) for k, v in invalid.errors.items()
            }
            continue
        said = " ".join(s.text for s in sent)
        assert SORRY not in said, form
    quiet(caplog)


@pytest.mark.parametrize("number", ["²", "9" * 5000, "99999999999999999999"])
async def test_an_event_number_no_event_can_have_is_answered_in_words(
    bot: Harness, number: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A button's value and a form's context come back from outside (the playground takes
    any value): these used to reach int() or SQLite and get the apology."""
    caplog.set_level(logging.INFO)
    [answer] = await bot.press("event.rsvp", f"{number}:going")
    assert "didn't come from an event I know" in answer.text
    with pytest.raises(FormInvalid) as invalid:
        await bot.submit("event-edit", {"title": "x"}, ALEX, context=number)
    assert invalid.value.errors == {"title": "I can't find that event any more."}
    quiet(caplog)
