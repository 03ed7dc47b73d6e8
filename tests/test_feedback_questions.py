"""A facilitator's own feedback questions: the TOML file and the typed lines, checked by one
validator (one line per mistake, nothing kept); opened from the form and the command line,
answered, summed up with choice counts, and exported only from k."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.feedback import DEFAULT_QUESTIONS, QuestionKind
from bot.feedback_messages import ANSWER
from bot.feedback_questions import QuestionProblems, from_lines, from_toml
from bot.model import Buttons, Choice, Form, LongText, Rating, Role, ShortText
from bot.ports import FormInvalid
from bot.services.feedback_forms import OPEN_FORM
from tests.support.harness import ALEX, NORTH, PRIYA, SAM, Harness
from tests.test_feedback import PEOPLE, form_for, submit

TOML = """
[[question]]
kind = "rating"
text = "How useful was it?"

[[question]]
kind = "choice"
text = "Which part helped most?"
options = ["The film", "Small groups", "The talk"]

[[question]]
kind = "short"
text = "One word for it"
required = false

[[question]]
kind = "long"
text = "What would you change?"
"""

LINES = (
    "rating: How useful was it?\n"
    "choice: Which part helped most? | The film | Small groups | The talk\n"
    "\n"
    "short: One word for it (optional)\n"
    "long: What would you change?"
)


def test_the_file_and_the_lines_give_the_same_questions() -> None:
    from_file, typed = from_toml(TOML), from_lines(LINES)
    assert from_file == typed
    assert [q.kind for q in typed] == [
        QuestionKind.RATING,
        QuestionKind.CHOICE,
        QuestionKind.SHORT,
        QuestionKind.LONG,
    ]
    assert [q.id for q in typed] == ["q1", "q2", "q3", "q4"]
    assert typed[1].options == ("The film", "Small groups", "The talk")
    assert [q.required for q in typed] == [True, True, False, True]


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("How useful?", ["Line 1: start it with the kind"]),
        ("poll: Which?", ["Line 1: `poll` isn't a kind of question"]),
        ("choice: Which? | Only one", ["Line 1: a choice question needs at least two options"]),
        ("choice: Which? | A | a", ["Line 1: two options say the same thing"]),
        ("choice: Which? | A | | B", ["Line 1: one of the options is empty"]),
        ("rating: How? | 1 | 2", ["Line 1: only a choice question has options"]),
        ("short: ", ["Line 1: the question itself is missing"]),
        (f"long: {'x' * 201}", ["Line 1: keep the question to 200 characters"]),
        ("\n".join(["short: Q?"] * 11), ["That's 11 questions"]),
        ("   \n", ["No questions found"]),
        (
            "short: Fine?\nwhat: Two?\nchoice: Three? | A",
            ["Line 2: `what` isn't", "Line 3: a choice question needs"],
        ),
    ],
)
def test_each_mistake_in_the_lines_is_one_line(text: str, problems: list[str]) -> None:
    with pytest.raises(QuestionProblems) as refused:
        from_lines(text)
    assert len(refused.value.problems) == len(problems)
    for said, expected in zip(refused.value.problems, problems, strict=True):
        assert said.startswith(expected), said
    assert refused.value.words.count("\n") == len(problems) - 1


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[[question]\n", "That isn't valid TOML"),
        ('title = "x"\n', "Unknown table `title`"),
        ("", "No questions found"),
        ('[[question]]\nkind = "short"\ntext = "Q"\ncolour = "red"\n', "unknown key `colour`"),
        ('[[question]]\nkind = 3\ntext = "Q"\n', "`kind` must be text"),
        ('[[question]]\nkind = "short"\ntext = ["Q"]\n', "`text` must be text"),
        ('[[question]]\nkind = "choice"\ntext = "Q"\noptions = "A, B"\n', "`options` must be"),
        ('[[question]]\nkind = "short"\ntext = "Q"\nrequired = "no"\n', "`required` must be"),
    ],
)
def test_each_mistake_in_the_file_is_named(text: str, problem: str) -> None:
    with pytest.raises(QuestionProblems) as refused:
        from_toml(text)
    assert problem in refused.value.words


def test_a_question_in_the_file_is_pointed_at_by_its_number() -> None:
    bad = TOML + '\n[[question]]\nkind = "choice"\ntext = "Last?"\noptions = ["Yes"]\n'
    with pytest.raises(QuestionProblems) as refused:
        from_toml(bad)
    assert refused.value.problems == (
        "Question 5: a choice question needs at least two options, like `| Yes | No` in chat,"
        ' or options = ["Yes", "No"] in a file.',
    )


# -- the form in chat -------------------------------------------------------------------


async def open_form_for(bot: Harness) -> Form:
    await bot.core.roles.grant(PRIYA.identity, Role.FACILITATOR, by=ALEX.identity)
    sent = await bot.command("feedback open", PRIYA)
    [form] = [s.form for s in sent if s.kind == "form"]
    assert form is not None and form.id == OPEN_FORM
    return form


async def test_the_open_form_takes_typed_questions_and_the_round_asks_them(bot: Harness) -> None:
    form = await open_form_for(bot)
    assert "`choice:`" in form.intro and "(optional)" in form.intro
    sent = await bot.submit(
        OPEN_FORM, {"title": "Workshop 4", "closes": "", "min": "3", "questions": LINES}, PRIYA
    )
    [post] = [s for s in sent if s.kind == "post"]
    assert post.message is not None
    assert "four short questions" in post.message.text  # it has four
    [buttons] = [b for b in post.message.blocks if isinstance(b, Buttons)]
    round_id = int(buttons.buttons[0].value)
    answer_form = await form_for(bot, SAM, round_id)
    assert isinstance(answer_form, Form)
    kinds = [type(f) for f in answer_form.fields]
    assert kinds == [Rating, Choice, ShortText, LongText]
    choice = answer_form.fields[1]
    assert isinstance(choice, Choice) and [v for v, _ in choice.options][1] == "Small groups"
    assert not answer_form.fields[2].required

    good = {"q1": "4", "q2": "Small groups", "q3": "", "q4": "More time"}
    with pytest.raises(FormInvalid) as refused:
        await submit(bot, answer_form, good | {"q2": "Something else"})
    assert refused.value.errors == {"q2": "Pick one of the options."}
    await submit(bot, answer_form, good)
    [(stored,)] = bot.rows("select answers from feedback_answers")
    assert json.loads(str(stored))["q2"] == "Small groups"


async def test_two_questions_are_announced_as_two(bot: Harness) -> None:
    await open_form_for(bot)
    typed = "rating: Useful?\nchoice: Again? | Yes | No"
    sent = await bot.submit(OPEN_FORM, {"title": "Short one", "questions": typed}, PRIYA)
    [post] = [s for s in sent if s.kind == "post"]
    assert post.message is not None and "two short questions" in post.message.text
    assert "four" not in post.message.text


async def test_an_empty_questions_box_keeps_the_usual_four(bot: Harness) -> None:
    await open_form_for(bot)
    await bot.submit(OPEN_FORM, {"title": "Usual", "questions": "  "}, PRIYA)
    [(questions,)] = bot.rows("select questions from feedback_rounds")
    assert [q["label"] for q in json.loads(str(questions))] == [q.label for q in DEFAULT_QUESTIONS]


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"title": ""}, "title", "Give the round a title"),
        ({"title": "T", "closes": "soon"}, "closes", "isn't a date"),
        ({"title": "T", "min": "2"}, "min", "at least 3"),
        ({"title": "T", "questions": "choice: Which? | A"}, "questions", "Line 1: a choice"),
    ],
)
async def test_mistakes_in_the_open_form_are_shown_there_and_nothing_is_kept(
    bot: Harness, values: dict[str, str], field: str, words: str
) -> None:
    await open_form_for(bot)
    with pytest.raises(FormInvalid) as refused:
        await bot.submit(OPEN_FORM, values, PRIYA)
    assert list(refused.value.errors) == [field]
    assert words in refused.value.errors[field]
    assert not bot.rows("select * from feedback_rounds")


async def test_staff_cannot_submit_the_open_form(bot: Harness) -> None:
    sent = await bot.submit(OPEN_FORM, {"title": "Mine"}, SAM)
    assert "for facilitators and admins" in sent[0].text
    assert not bot.rows("select * from feedback_rounds")


# -- the command line -------------------------------------------------------------------


async def invoke(words: list[str]) -> Any:
    # The command line runs its own event loop: off this one, in a thread.
    return await asyncio.to_thread(CliRunner().invoke, cli, words)


async def test_the_command_line_opens_a_round_from_a_file_and_exports_choice_counts(
    bot: Harness, tmp_path: Path
) -> None:
    db = str(bot.core.db.path)
    file = tmp_path / "questions.toml"
    file.write_text(TOML)
    opened = await invoke(
        ["feedback", "open", "Workshop 5", "--questions", str(file), "--min", "3", "--db", db]
    )
    assert opened.exit_code == 0, opened.output
    assert "4 question(s)" in opened.output and "direct message" in opened.output
    [(round_id,)] = bot.rows("select id from feedback_rounds")
    assert isinstance(round_id, int)
    # Offered by /cop feedback, though announced nowhere.
    listing = await bot.command("feedback", SAM)
    assert any(
        b.action_id == ANSWER and b.value == str(round_id)
        for s in listing
        if s.message
        for block in s.message.blocks
        if isinstance(block, Buttons)
        for b in block.buttons
    )
    picks = ["The film", "Small groups", "Small groups"]
    for n, (person, pick) in enumerate(zip(PEOPLE, picks, strict=False)):
        form = await form_for(bot, person, round_id)
        assert isinstance(form, Form)
        if n == 2:  # k - 1 answers: nothing but the count
            hidden = await invoke(
                ["feedback", "export", str(round_id), "--format", "json", "--db", db]
            )
            assert json.loads(hidden.output)["answers"] == []
            assert "counts" not in json.loads(hidden.output)
            none = await invoke(
                ["feedback", "results", str(round_id), "--format", "csv", "--db", db]
            )
            assert none.stdout.splitlines() == ["question,text,kind,option,count"]
            assert "Results show once the round closes" in none.stderr
        await submit(bot, form, {"q1": "5", "q2": pick, "q3": "", "q4": f"words {n}"})
    await bot.reply_text(f"feedback close {round_id}", ALEX)

    results = json.loads(
        (
            await invoke(["feedback", "results", str(round_id), "--format", "json", "--db", db])
        ).output
    )
    choice = results["questions"][1]
    assert choice["kind"] == "choice"
    assert choice["distribution"] == {"The film": 1, "Small groups": 2, "The talk": 0}
    exported = json.loads(
        (await invoke(["feedback", "export", str(round_id), "--format", "json", "--db", db])).output
    )
    assert exported["counts"]["q2"] == {"The film": 1, "Small groups": 2, "The talk": 0}
    assert exported["counts"]["q1"]["5"] == 3
    csv_out = await invoke(["feedback", "export", str(round_id), "--format", "csv", "--db", db])
    lines = csv_out.output.splitlines()
    assert lines[0] == "q1,q2,q3,q4" and sum("Small groups" in line for line in lines) == 2
    counts = await invoke(["feedback", "results", str(round_id), "--format", "csv", "--db", db])
    assert "q2,Which part helped most?,choice,Small groups,2" in counts.stdout.splitlines()
    assert "q1,How useful was it?,rating,5,3" in counts.stdout.splitlines()
    table = await invoke(["feedback", "results", str(round_id), "--db", db])
    assert "The film: 1 · Small groups: 2 · The talk: 0" in table.output


async def test_a_bad_questions_file_is_one_line_a_mistake_and_keeps_nothing(
    bot: Harness, tmp_path: Path
) -> None:
    file = tmp_path / "questions.toml"
    file.write_text(
        '[[question]]\nkind = "poll"\ntext = "Q"\n\n'
        '[[question]]\nkind = "choice"\ntext = "Which?"\noptions = ["A"]\n'
    )
    refused = await invoke(
        ["feedback", "open", "Bad", "--questions", str(file), "--db", str(bot.core.db.path)]
    )
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert lines[1].startswith("Question 1: `poll` isn't a kind of question")
    assert lines[2].startswith("Question 2: a choice question needs at least two options")
    assert len(lines) == 3
    assert not bot.rows("select * from feedback_rounds")


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--min", "2"], "at least 3"),
        (["--closes", "2020-01-01"], "has passed"),
        (["--closes", "9999-12-31"], "more than five years away"),
    ],
)
async def test_bad_settings_on_the_command_line_keep_nothing(
    bot: Harness, extra: list[str], words: str
) -> None:
    refused = await invoke(["feedback", "open", "T", *extra, "--db", str(bot.core.db.path)])
    assert refused.exit_code == 1 and words in refused.output
    assert not bot.rows("select * from feedback_rounds")


async def test_the_command_line_has_the_running_copbot_announce_a_round_in_a_channel(
    bot: Harness, tmp_path: Path
) -> None:
    await bot.join(NORTH)
    hello = len(bot.adapter.sent)

    def posts() -> list[Any]:
        return [s for s in bot.adapter.sent[hello:] if s.kind == "post"]

    file = tmp_path / "questions.toml"
    file.write_text(TOML)
    words = ["feedback", "open", "Workshop 8", "--questions", str(file), "--channel", "#north"]
    opened = await invoke([*words, "--db", str(bot.core.db.path)])
    assert opened.exit_code == 0, opened.output
    assert "announces it in #north" in opened.output
    assert not posts()  # not by the command line itself
    # The command line queued it for its own "now" (the wall clock): the running copbot's
    # clock reaches it.
    behind = datetime.now(UTC) - bot.clock.now()
    await bot.tick(max(behind, timedelta(0)) + timedelta(minutes=1))
    [post] = posts()
    assert post.message is not None and "Workshop 8" in post.message.text
    assert "four short questions" in post.message.text
    [buttons] = [b for b in post.message.blocks if isinstance(b, Buttons)]
    assert buttons.buttons[0].action_id == ANSWER
    await bot.tick()
    assert len(posts()) == 1  # once


@pytest.mark.parametrize(
    ("channel", "words"),
    [("#nowhere", "isn't in a channel called #nowhere"), ("test:#general", "isn't in a channel")],
)
async def test_a_channel_copbot_is_not_in_is_refused_and_nothing_is_opened(
    bot: Harness, channel: str, words: str
) -> None:
    await bot.join(NORTH)
    db = str(bot.core.db.path)
    refused = await invoke(["feedback", "open", "T", "--channel", channel, "--db", db])
    assert refused.exit_code == 1 and words in refused.output
    assert not bot.rows("select * from feedback_rounds")


def test_thousands_of_bad_lines_are_summed_up_after_the_first_few() -> None:
    with pytest.raises(QuestionProblems) as caught:
        from_lines("no colon here\n" * 5000)
    assert len(caught.value.problems) == 5000
    assert caught.value.words.count("Line ") == QuestionProblems.SHOWN
    assert caught.value.words.endswith("…and 4,995 more like these.")
    assert len(caught.value.words) < 1000
