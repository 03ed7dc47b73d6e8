"""What feedback rounds say: the answer button and form, and a round's results.

Questions, options and answers are people's words: shown as written, never as markup.
"""

from __future__ import annotations

from bot.feedback import Question, QuestionKind, Results, Round, Ticket
from bot.markup import escape
from bot.model import Button, ButtonStyle, Context, Form, OutgoingMessage, Text
from bot.timefmt import date_for_people

ANSWER = "feedback.answer"
ANSWER_FORM = "feedback-answer"
ANONYMOUS = "Your answer is anonymous: nobody, admins included, can see who wrote it."
CANNOT_HIDE = (
    "What copbot cannot hide: the chat platform itself sees that you opened and sent this "
    "form, and carries what you send, with your name, to copbot (which drops your name before "
    "keeping anything); in a small group, what you write may show who you are; and if you "
    "write your name, you are named. Results are shown only after the round closes, and only "
    "if enough people answered."
)
THANKS = "Thank you. Your answer is in, with nothing to say it was yours."


def answer_button(round_: Round) -> Button:
    """The button that opens a round's anonymous form, wherever copbot offers it."""
    return Button(
        ANSWER, "Answer anonymously", str(round_.id), ButtonStyle.PRIMARY, opens_form=True
    )


def answer_form(round_: Round, ticket: Ticket) -> Form:
    return Form(
        ANSWER_FORM,
        "Anonymous feedback",
        tuple(q.field() for q in round_.questions),
        submit_label="Send anonymously",
        intro=f"**{escape(round_.title)}**\n{ANONYMOUS}\n{CANNOT_HIDE}",
        context=ticket.encode(),
        anonymous=True,
        thanks=THANKS,
    )


def results_message(results: Results) -> OutgoingMessage:
    r = results.round
    count = answers(results.count)
    head = Text(f"**Feedback: {escape(r.title)}** (round {r.id}, {r.state.value}): {count}")
    if not results.shown:
        return OutgoingMessage((head, Text(results.hidden_because)))
    blocks: list[Text | Context] = [head]
    # Questions, options and answers are people's words: shown as written, never as markup.
    for q in results.questions:
        label = escape(q.question.label)
        if q.question.kind is QuestionKind.RATING:
            dist = " · ".join(f"{v}: {n}" for v, n in q.distribution)
            mean = f"; mean {q.mean:.2f}" if q.mean is not None else ""
            blocks.append(Text(f"**{label}**\n{dist}{mean}"))
        elif q.question.kind is QuestionKind.CHOICE:
            dist = " · ".join(f"{escape(v)}: {n}" for v, n in q.distribution)
            blocks.append(Text(f"**{label}**\n{dist}"))
        else:
            said = "\n".join(f"• {escape(t)}" for t in q.texts) or "(nobody answered this one)"
            blocks.append(Text(f"**{label}**\n{said}"))
    blocks.append(Context("Written answers are in random order, never the order they came in."))
    return OutgoingMessage(tuple(blocks))


_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def how_many(questions: tuple[Question, ...]) -> str:
    n = len(questions)
    count = _NUMBERS[n] if n < len(_NUMBERS) else str(n)
    return f"{count} short question{'s' if n != 1 else ''}"


def until(round_: Round) -> str:
    return f" Open until {date_for_people(round_.closes_on)}." if round_.closes_on else ""


def answers(n: int) -> str:
    return f"{n} answer{'s' if n != 1 else ''}"
