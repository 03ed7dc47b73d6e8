"""The forms of the prompt library: adding a prompt (held to the library's own bar) and
suggesting one."""

from __future__ import annotations

import re
from collections.abc import Mapping

from bot.model import Choice, Form, FormSubmitted, LongText, ShortText
from bot.records import Prompt
from prompts import Library, check_prompt

ADD_FORM = "prompt-add"
SUGGEST_FORM = "prompt-suggest"


def add_form(library: Library) -> Form:
    return Form(
        ADD_FORM,
        "Add a prompt",
        (
            Choice("topic", "Topic", tuple((t.slug, t.title) for t in library.topics)),
            ShortText("title", "Title", max_length=80, placeholder="A few words"),
            LongText("text", "The question", max_length=1000),
            LongText(
                "follow_ups",
                "Follow-up questions, one a line (up to three)",
                max_length=600,
            ),
            LongText(
                "facilitator_note",
                "Note for facilitators: how to hold this conversation safely",
                max_length=500,
            ),
            ShortText(
                "content_note",
                "Content note, if the prompt touches something painful",
                required=False,
                max_length=300,
            ),
        ),
        submit_label="Add prompt",
    )


def suggest_form(library: Library, topic: str) -> Form:
    return Form(
        SUGGEST_FORM,
        "Suggest a prompt",
        (
            Choice(
                "topic",
                "Topic",
                tuple((t.slug, t.title) for t in library.topics),
                required=False,
                initial=topic if library.topic(topic) else "",
            ),
            LongText("text", "The question you'd like us to reflect on", max_length=1000),
        ),
        submit_label="Send suggestion",
        intro="Facilitators will see your name with your suggestion, so they can talk it over.",
        thanks="Thank you! I've passed your suggestion on to the facilitators.",
    )


async def check_suggestion(event: FormSubmitted) -> dict[str, str]:
    if not event.value("text").strip():
        return {"text": "Please write the question you'd like us to reflect on."}
    return {}


def _new_id(topic: str, title: str, library: Library) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())[:5] or ["prompt"]
    base = f"{topic}-{'-'.join(words)}"[:60].rstrip("-")
    candidate, n = base, 2
    while library.prompt(candidate) is not None:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


FORM_LABELS = {
    "topic": "Topic",
    "title": "Title",
    "text": "The question",
    "follow_ups": "Follow-up questions",
    "facilitator_note": "Note for facilitators",
    "content_note": "Content note",
}


def prompt_form_errors(values: Mapping[str, str], library: Library) -> dict[str, str]:
    """What is wrong with the prompt-add form's answers, as {field id: what to fix}, for
    every field that needs it: the same bar as the library's own prompts and files added
    with `copbot prompts add` (prompts.check_prompt). Empty when the prompt can be added."""
    return prompt_from_form(values, library)[1]


def prompt_from_form(
    values: Mapping[str, str], library: Library, added_by: str = ""
) -> tuple[Prompt | None, dict[str, str]]:
    """The prompt the add form describes, or None and {field id: what to fix}."""
    topic = values.get("topic", "")
    errors: dict[str, str] = {}
    if library.topic(topic) is None:
        errors["topic"] = "Pick one of the topics."
    title = values.get("title", "")
    data = {
        "id": _new_id(topic, title, library),
        "title": title,
        "text": values.get("text", ""),
        "follow_ups": [q for q in values.get("follow_ups", "").splitlines() if q.strip()],
        "facilitator_note": values.get("facilitator_note", ""),
        "content_note": values.get("content_note", ""),
    }
    prompt, problems = check_prompt(data, topic, added_by=added_by)
    for problem in problems:
        field, _, what = problem.partition(": ")
        # The id is made from the topic and title; the person can only change those.
        field = "title" if field == "id" else field
        if field == "title" and "topic" in errors and "topic" in what:
            continue  # the id doesn't start with a topic that isn't one: said already
        said = what[:1].upper() + what[1:] + ("" if what.endswith((".", "?")) else ".")
        errors[field] = f"{errors[field]} {said}" if field in errors else said
    return (prompt if not errors else None), errors


def echo(event: FormSubmitted) -> str:
    return "\n".join(f"{k}: {v}" for k, v in event.values if v and k != "topic")
