"""The form a facilitator opens a feedback round in, with room for their own questions."""

from __future__ import annotations

from collections.abc import Mapping

from bot.feedback import DEFAULT_THRESHOLD, MAX_TITLE, MIN_THRESHOLD
from bot.feedback_questions import QuestionProblems, from_lines
from bot.model import Form, LongText, ShortText

OPEN_FORM = "feedback-open"
TITLE, CLOSES, MIN, QUESTIONS = "title", "closes", "min", "questions"

QUESTIONS_HELP = (
    "Your own questions, one a line, each starting with its kind: `rating:` (1 to 5), "
    "`choice:` with its options after `|` marks, `short:` or `long:` for words. End a line "
    "with `(optional)` if it needn't be answered. Leave the box empty to ask the usual four: "
    "how useful it was, what was most impactful, what you'd change, and anything else."
)
# Slack shows at most 150 characters of a placeholder.
EXAMPLE = (
    "rating: How useful was it?\nchoice: Which part helped most? | Film | Talk\n"
    "long: What would you change? (optional)"
)


def open_form() -> Form:
    return Form(
        OPEN_FORM,
        "Open a feedback round",
        (
            ShortText(TITLE, "Title", max_length=MAX_TITLE, placeholder="e.g. Workshop 3"),
            ShortText(
                CLOSES,
                "Closes on (YYYY-MM-DD, optional)",
                required=False,
                placeholder="e.g. 2026-12-18",
                max_length=10,
            ),
            ShortText(
                MIN,
                f"Answers needed before results show (at least {MIN_THRESHOLD})",
                required=False,
                initial=str(DEFAULT_THRESHOLD),
                max_length=4,
            ),
            LongText(
                QUESTIONS,
                "Your own questions (optional)",
                required=False,
                placeholder=EXAMPLE,
                max_length=3000,
            ),
        ),
        submit_label="Open and announce",
        intro="copbot announces the round in this channel with a button to answer "
        f"anonymously.\n{QUESTIONS_HELP}",
    )


def questions_problem(values: Mapping[str, str]) -> str:
    """What is wrong with the typed questions, one line per mistake; "" if fine or empty."""
    text = values.get(QUESTIONS, "")
    if not text.strip():
        return ""
    try:
        from_lines(text)
    except QuestionProblems as e:
        return e.words
    return ""
