"""Loading and checking the prompt library.

Each topic is one TOML file (``<slug>.toml``) with ``slug``, ``title``, ``summary`` and a
list of ``[[prompts]]``. Every problem is reported as one line naming the file, the prompt
and the field, so whoever edits a file can fix it without reading code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import WordedError
from bot.records import Prompt, Resource, Topic

LIBRARY_DIR = Path(__file__).resolve().parent / "library"

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_TITLE = 80
MAX_TEXT = 1000
MAX_FOLLOW_UP = 200
MAX_NOTE = 500
# A floor under every prompt, shipped or added: enough words to reflect on and to hold
# the conversation safely (the shipped library's shortest are well above it: a title of
# 19 characters, a question of 238, a follow-up of 41, a note of 124).
MIN_TITLE = 5
MIN_TEXT = 30
MIN_FOLLOW_UP = 10
MIN_NOTE = 25
MAX_CONTENT_NOTE = 300
MAX_RESOURCES = 3
PROMPT_FIELDS = (
    "id",
    "title",
    "text",
    "follow_ups",
    "facilitator_note",
    "content_note",
    "resources",
)
TOPIC_FIELDS = ("slug", "title", "summary", "prompts")


class LibraryError(WordedError):
    """One or more problems with the library; each line names file, prompt and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Library:
    topics: tuple[Topic, ...]

    @property
    def prompts(self) -> tuple[Prompt, ...]:
        return tuple(p for t in self.topics for p in t.prompts)

    def topic(self, slug: str) -> Topic | None:
        return next((t for t in self.topics if t.slug == slug), None)

    def prompt(self, prompt_id: str) -> Prompt | None:
        return next((p for p in self.prompts if p.id == prompt_id), None)

    def with_added(self, added: Iterable[Prompt]) -> Library:
        """The library with prompts facilitators added, each in its topic."""
        extra: dict[str, list[Prompt]] = {}
        for prompt in added:
            extra.setdefault(prompt.topic, []).append(prompt)
        return Library(
            tuple(replace(t, prompts=t.prompts + tuple(extra.get(t.slug, ()))) for t in self.topics)
        )


def load_library(folder: Path = LIBRARY_DIR) -> Library:
    """Every ``*.toml`` in ``folder``, checked; raises LibraryError listing every problem."""
    if not folder.is_dir():
        raise LibraryError([f"{folder}: the prompt library folder does not exist"])
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise LibraryError([f"{folder}: no topic files (*.toml) in the prompt library"])
    topics: list[Topic] = []
    problems: list[str] = []
    for path in files:
        try:
            topics.append(load_topic(path))
        except LibraryError as e:
            problems.extend(e.problems)
    problems.extend(_duplicates(topics, files))
    if problems:
        raise LibraryError(problems)
    return Library(tuple(topics))


def load_topic(path: Path) -> Topic:
    name = _display(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise LibraryError([f"{name}: not valid TOML: {e}"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise LibraryError([f"{name}: cannot be read: {e}"]) from None
    problems = [f"{name}: {p}" for p in _unknown(data, TOPIC_FIELDS, "topic")]
    slug = data.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug):
        problems.append(f"{name}: slug: write it in lower case with hyphens, like race-and-clients")
        slug = path.stem
    elif slug != path.stem:
        problems.append(f"{name}: slug: '{slug}' must match the file name ({path.stem})")
    for field in ("title", "summary"):
        if not _text(data.get(field)):
            problems.append(f"{name}: {field}: missing; every topic needs a {field}")
    raw_prompts = data.get("prompts")
    prompts: list[Prompt] = []
    if not isinstance(raw_prompts, list) or not raw_prompts:
        problems.append(f"{name}: prompts: the topic has no [[prompts]]")
        raw_prompts = []
    for index, raw in enumerate(raw_prompts, start=1):
        if not isinstance(raw, dict):
            problems.append(f"{name}: prompt {index}: must be a [[prompts]] table")
            continue
        prompt, found = check_prompt(raw, slug)
        label = f"prompt '{raw['id']}'" if isinstance(raw.get("id"), str) else f"prompt {index}"
        problems.extend(f"{name}: {label}: {p}" for p in found)
        if prompt is not None:
            prompts.append(prompt)
    if problems:
        raise LibraryError(problems)
    return Topic(slug, _text(data["title"]), _text(data["summary"]), tuple(prompts))


def check_prompt(
    data: Mapping[str, Any], topic: str, added_by: str = ""
) -> tuple[Prompt | None, list[str]]:
    """One prompt's fields, checked. Returns the prompt, or None and what is wrong."""
    problems = _unknown(data, PROMPT_FIELDS, "prompt")
    prompt_id = data.get("id")
    if not isinstance(prompt_id, str) or not SLUG.match(prompt_id):
        problems.append("id: write it in lower case with hyphens, like language-asking-how")
    elif not prompt_id.startswith(f"{topic}-"):
        problems.append(f"id: start it with the topic, like {topic}-{prompt_id}")
    title = _text(data.get("title"))
    if not title:
        problems.append("title: missing")
    elif len(title) > MAX_TITLE:
        problems.append(f"title: keep it to {MAX_TITLE} characters (it has {len(title)})")
    elif len(title) < MIN_TITLE:
        problems.append(f"title: give it at least {MIN_TITLE} characters (it has {len(title)})")
    text = _text(data.get("text"))
    if not text:
        problems.append("text: missing; this is the question itself")
    elif len(text) > MAX_TEXT:
        problems.append(f"text: keep it to {MAX_TEXT} characters (it has {len(text)})")
    elif len(text) < MIN_TEXT:
        problems.append(
            f"text: give the question at least {MIN_TEXT} characters, enough to reflect on "
            f"(it has {len(text)})"
        )
    follow_ups = data.get("follow_ups")
    if not isinstance(follow_ups, list) or not all(isinstance(f, str) for f in follow_ups):
        problems.append('follow_ups: give a list of questions, like ["First?", "Second?"]')
        follow_ups = []
    follow_ups = [f.strip() for f in follow_ups if f.strip()]
    if isinstance(data.get("follow_ups"), list) and not 1 <= len(follow_ups) <= 3:
        problems.append(f"follow_ups: give 1 to 3 follow-up questions (found {len(follow_ups)})")
    problems.extend(
        f"follow_ups: keep each to {MAX_FOLLOW_UP} characters (one has {len(f)})"
        for f in follow_ups
        if len(f) > MAX_FOLLOW_UP
    )
    if short := [f for f in follow_ups if len(f) < MIN_FOLLOW_UP]:
        problems.append(
            f"follow_ups: give each at least {MIN_FOLLOW_UP} characters "
            f"({len(short)} of them {'is' if len(short) == 1 else 'are'} shorter)"
        )
    note = _text(data.get("facilitator_note"))
    if not note:
        problems.append("facilitator_note: missing; say how to hold this conversation safely")
    elif len(note) > MAX_NOTE:
        problems.append(f"facilitator_note: keep it to {MAX_NOTE} characters (it has {len(note)})")
    elif len(note) < MIN_NOTE:
        problems.append(
            f"facilitator_note: give it at least {MIN_NOTE} characters (it has {len(note)})"
        )
    content_note = data.get("content_note", "")
    if not isinstance(content_note, str):
        problems.append("content_note: must be text")
        content_note = ""
    elif len(content_note.strip()) > MAX_CONTENT_NOTE:
        problems.append(f"content_note: keep it to {MAX_CONTENT_NOTE} characters")
    resources, found = _resources(data.get("resources", []))
    problems.extend(found)
    if problems:
        return None, problems
    assert isinstance(prompt_id, str)
    return (
        Prompt(
            prompt_id,
            topic,
            title,
            text,
            tuple(follow_ups),
            note,
            content_note.strip(),
            resources,
            added_by,
        ),
        [],
    )


def _resources(raw: object) -> tuple[tuple[Resource, ...], list[str]]:
    if not isinstance(raw, list):
        return (), ["resources: give a list of [[prompts.resources]] with title and url"]
    problems: list[str] = []
    resources: list[Resource] = []
    if len(raw) > MAX_RESOURCES:
        problems.append(f"resources: at most {MAX_RESOURCES} per prompt (found {len(raw)})")
    for item in raw:
        if not isinstance(item, dict):
            problems.append("resources: each needs a title and a url")
            continue
        problems.extend(_unknown(item, ("title", "url"), "resource"))
        title, url = _text(item.get("title")), _text(item.get("url"))
        if not title:
            problems.append("resources: title: missing")
        if not re.match(r"^https://[^\s/]+\.[^\s]+$", url):
            problems.append(f"resources: url: '{url}' must be a public https:// address")
        resources.append(Resource(title, url))
    return tuple(resources), problems


def _unknown(data: Mapping[str, Any], known: Sequence[str], what: str) -> list[str]:
    problems = []
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(f"{key}: not a {what} field{hint}")
    return problems


def _duplicates(topics: Sequence[Topic], files: Sequence[Path]) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    names = {path.stem: _display(path) for path in files}
    for topic in topics:
        for prompt in topic.prompts:
            where = names.get(topic.slug, topic.slug)
            if prompt.id in seen:
                problems.append(
                    f"{where}: prompt '{prompt.id}': id: already used in {seen[prompt.id]}"
                )
            else:
                seen[prompt.id] = where
    return problems


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
