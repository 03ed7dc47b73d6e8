"""A facilitator's own feedback questions, from a TOML file or from lines typed in a form.

Both shapes go through one validator, so a mistake reads the same wherever it was made:
one line per mistake, and nothing kept until there are none (README, "Your own questions").

TOML::

    [[question]]
    kind = "choice"               # rating, choice, short or long
    text = "Which part helped you most?"
    options = ["The film", "Small groups", "The talk"]
    required = false              # optional; true when left out

Lines (one question a line)::

    rating: How useful was this session for your practice?
    choice: Which part helped you most? | The film | Small groups | The talk
    long: What would you change? (optional)
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.errors import WordedError
from bot.feedback import Question, QuestionKind

MAX_QUESTIONS = 10
MAX_LABEL = 200  # what a question says; Slack's input labels allow 2,000
MAX_OPTIONS = 10
MAX_OPTION = 75  # Slack's limit on an option's text
OPTIONAL = "(optional)"
KINDS = ", ".join(k.value for k in QuestionKind)
TOML_KEYS = ("kind", "text", "options", "required")


class QuestionProblems(WordedError):
    """Everything wrong with a set of questions, one line per mistake."""

    SHOWN = 5  # thousands of bad lines must not make a message no platform would post

    def __init__(self, problems: Sequence[str]) -> None:
        shown = list(problems[: self.SHOWN])
        if len(problems) > self.SHOWN:
            shown.append(f"…and {len(problems) - self.SHOWN:,} more like these.")
        super().__init__("\n".join(shown))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Draft:
    """One question as written, before it is checked."""

    where: str  # "Line 3", "Question 2": how a mistake points at it
    kind: str
    text: str
    options: tuple[str, ...] = ()
    required: bool = True


def from_lines(text: str) -> tuple[Question, ...]:
    """Questions typed one a line (``kind: text``); raises QuestionProblems."""
    drafts: list[Draft] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        kind, sep, rest = line.partition(":")
        if not sep:
            problems.append(
                f"Line {number}: start it with the kind of question and a colon, "
                f"like `rating: How useful was it?` (kinds: {KINDS})."
            )
            continue
        rest = rest.strip()
        required = True
        if rest.lower().endswith(OPTIONAL):
            rest, required = rest[: -len(OPTIONAL)].strip(), False
        label, *options = (part.strip() for part in rest.split("|"))
        kind = kind.strip().lower()
        drafts.append(Draft(f"Line {number}", kind, label, tuple(options), required))
    return _checked(drafts, problems)


def from_toml(text: str) -> tuple[Question, ...]:
    """Questions from a TOML document of ``[[question]]`` tables; raises QuestionProblems."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise QuestionProblems([f"That isn't valid TOML: {e}."]) from None
    unknown = sorted(set(doc) - {"question"})
    if unknown:
        return _raise(f"Unknown table `{unknown[0]}`: write each question as `[[question]]`.")
    tables = doc.get("question", [])
    if not isinstance(tables, list) or not tables:
        return _raise("No questions found: write each one as a `[[question]]` table.")
    drafts: list[Draft] = []
    problems: list[str] = []
    for number, table in enumerate(tables, start=1):
        where = f"Question {number}"
        if not isinstance(table, Mapping):
            problems.append(f"{where}: write it as a `[[question]]` table.")
            continue
        draft, mistakes = _toml_draft(where, table)
        problems.extend(mistakes)
        if draft is not None:
            drafts.append(draft)
    return _checked(drafts, problems)


def _toml_draft(where: str, table: Mapping[str, Any]) -> tuple[Draft | None, list[str]]:
    problems = [
        f"{where}: unknown key `{key}` (use {', '.join(TOML_KEYS)})."
        for key in table
        if key not in TOML_KEYS
    ]
    kind, text = table.get("kind", ""), table.get("text", "")
    options, required = table.get("options", []), table.get("required", True)
    if not isinstance(kind, str):
        problems.append(f"{where}: `kind` must be text, one of {KINDS}.")
    if not isinstance(text, str):
        problems.append(f"{where}: `text` must be text, in quotes.")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        problems.append(f'{where}: `options` must be a list of text, like ["Yes", "No"].')
    if not isinstance(required, bool):
        problems.append(f"{where}: `required` must be true or false.")
    if problems:
        return None, problems
    stripped = tuple(o.strip() for o in options)
    return Draft(where, kind.strip().lower(), text.strip(), stripped, required), []


def _checked(drafts: list[Draft], problems: list[str]) -> tuple[Question, ...]:
    questions: list[Question] = []
    for draft in drafts:
        question, mistakes = _question(draft, f"q{len(questions) + 1}")
        problems.extend(mistakes)
        if question is not None:
            questions.append(question)
    if not problems and not drafts:
        problems.append("No questions found: write one a line, like `short: What worked?`.")
    if len(drafts) > MAX_QUESTIONS:
        problems.append(
            f"That's {len(drafts)} questions; please keep it to {MAX_QUESTIONS}, "
            "so that people finish the form."
        )
    if problems:
        raise QuestionProblems(problems)
    return tuple(questions)


def _question(draft: Draft, qid: str) -> tuple[Question | None, list[str]]:
    where = draft.where
    try:
        kind = QuestionKind(draft.kind)
    except ValueError:
        shown = draft.kind[:20] or "(nothing)"
        return None, [f"{where}: `{shown}` isn't a kind of question; use one of {KINDS}."]
    problems = []
    if not draft.text:
        problems.append(f"{where}: the question itself is missing.")
    elif len(draft.text) > MAX_LABEL:
        problems.append(
            f"{where}: keep the question to {MAX_LABEL} characters; it's {len(draft.text):,}."
        )
    if kind is QuestionKind.CHOICE:
        problems.extend(_option_problems(where, draft.options))
    elif draft.options:
        problems.append(f"{where}: only a choice question has options; this is {kind.value}.")
    if problems:
        return None, problems
    return Question(qid, kind, draft.text, draft.required, options=draft.options), []


def _option_problems(where: str, options: tuple[str, ...]) -> list[str]:
    if len(options) < 2:
        return [
            f"{where}: a choice question needs at least two options, like `| Yes | No` in"
            ' chat, or options = ["Yes", "No"] in a file.'
        ]
    problems = []
    if len(options) > MAX_OPTIONS:
        problems.append(f"{where}: keep it to {MAX_OPTIONS} options; there are {len(options)}.")
    if any(not o for o in options):
        problems.append(f"{where}: one of the options is empty.")
    if any(len(o) > MAX_OPTION for o in options):
        problems.append(f"{where}: keep each option to {MAX_OPTION} characters.")
    if len({o.casefold() for o in options}) != len(options):
        problems.append(f"{where}: two options say the same thing.")
    return problems


def _raise(problem: str) -> tuple[Question, ...]:
    raise QuestionProblems([problem])
