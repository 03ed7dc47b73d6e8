"""Writing the archive out: JSON Lines, JSON, CSV, Markdown and HTML, streamed row by row
so memory stays flat however large the archive is.

Rows arrive as tuples in ``FIELDS`` order (the documented record), straight from storage:
building an object per row would cost more than writing it.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from bot.records import Prompt

FIELDS = (
    "platform",
    "channel_id",
    "channel_name",
    "thread_id",
    "message_id",
    "author_id",
    "author_name",
    "anonymous",
    "text",
    "created_at",
    "edited_at",
    "prompt_id",
    "topic",
    "region",
    "private",  # from a private channel: only its members could see it there
)
FORMATS = ("jsonl", "json", "csv", "markdown", "html")
THREADED = frozenset({"markdown", "html"})  # these need rows in thread order

Row = tuple[Any, ...]
PromptLookup = Callable[[str], Prompt | None]

_AUTHOR_ID = FIELDS.index("author_id")
_AUTHOR_NAME = FIELDS.index("author_name")
_ANONYMOUS = FIELDS.index("anonymous")
_TEXT = FIELDS.index("text")
_CREATED = FIELDS.index("created_at")
_CHANNEL = FIELDS.index("channel_name")
_THREAD = FIELDS.index("thread_id")
_CHANNEL_ID = FIELDS.index("channel_id")
_PROMPT = FIELDS.index("prompt_id")
_TOPIC = FIELDS.index("topic")
_PRIVATE = FIELDS.index("private")
PRIVATE_MARK = "private channel"


class Pseudonyms:
    """Authors become "Participant 1", "Participant 2"… in order of their first message,
    consistently through one export; their names are replaced in the text too."""

    def __init__(self, authors: Iterable[tuple[str, str]]) -> None:
        self._by_id: dict[str, tuple[str, str]] = {}
        names: dict[str, str] = {}
        for n, (identity, name) in enumerate(authors, start=1):
            label = f"Participant {n}"
            self._by_id[identity] = (f"participant-{n}", label)
            if name.strip():
                names.setdefault(name.strip(), label)
        # Longest first, so "Sam Okafor" is replaced whole before "Sam" could be.
        ordered = sorted(names, key=len, reverse=True)
        self._names = names
        self._pattern = (
            re.compile(r"(?<!\w)@?(" + "|".join(map(re.escape, ordered)) + r")(?!\w)")
            if ordered
            else None
        )

    def row(self, row: Row) -> Row:
        values = list(row)
        identity = values[_AUTHOR_ID]
        if identity and identity not in self._by_id:
            # Someone who wrote after the list of authors was read: never their real name.
            n = len(self._by_id) + 1
            self._by_id[identity] = (f"participant-{n}", f"Participant {n}")
        if identity:
            values[_AUTHOR_ID], values[_AUTHOR_NAME] = self._by_id[identity]
        if self._pattern is not None:
            values[_TEXT] = self._pattern.sub(lambda m: self._names[m.group(1)], values[_TEXT])
        return tuple(values)


def records(rows: Iterable[Row], pseudonyms: Pseudonyms | None) -> Iterator[Row]:
    for row in rows:
        yield pseudonyms.row(row) if pseudonyms else row


def write(
    fmt: str,
    rows: Iterable[Row],
    out: TextIO,
    prompt_of: PromptLookup,
    title: str = "Community archive",
) -> int:
    """Write ``rows`` to ``out`` in ``fmt``; return how many were written."""
    writers: dict[str, Callable[[Iterable[Row], TextIO], int]] = {
        "jsonl": write_jsonl,
        "json": write_json,
        "csv": write_csv,
        "markdown": lambda r, o: write_markdown(r, o, prompt_of, title),
        "html": lambda r, o: write_html(r, o, prompt_of, title),
    }
    return writers[fmt](rows, out)


def _record(row: Row) -> dict[str, Any]:
    record = dict(zip(FIELDS, row, strict=True))
    record["anonymous"] = bool(record["anonymous"])
    record["private"] = bool(record["private"])
    return record


def write_jsonl(rows: Iterable[Row], out: TextIO) -> int:
    n = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for n, row in enumerate(rows, start=1):  # noqa: B007
        out.write(dumps(_record(row)))
        out.write("\n")
    return n


def write_json(rows: Iterable[Row], out: TextIO) -> int:
    n = 0
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    out.write("[")
    for n, row in enumerate(rows, start=1):
        out.write("\n" if n == 1 else ",\n")
        out.write(dumps(_record(row)))
    out.write("\n]\n" if n else "]\n")
    return n


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A cell a spreadsheet would run as a formula is written as text instead."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(rows: Iterable[Row], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    n = 0
    for n, row in enumerate(rows, start=1):  # noqa: B007
        values = [neutralise_cell(v) for v in row]
        values[_ANONYMOUS] = "true" if row[_ANONYMOUS] else "false"
        values[_PRIVATE] = "true" if row[_PRIVATE] else "false"
        writer.writerow(values)
    return n


@dataclass(frozen=True)
class _Thread:
    key: tuple[str, str]
    rows: list[Row]


def _threads(rows: Iterable[Row]) -> Iterator[_Thread]:
    """Consecutive rows of one thread (rows arrive in thread order), one thread at a time."""
    current: _Thread | None = None
    for row in rows:
        key = (row[_CHANNEL_ID], row[_THREAD])
        if current is None or current.key != key:
            if current is not None:
                yield current
            current = _Thread(key, [])
        current.rows.append(row)
    if current is not None:
        yield current


def _when(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


def _where(row: Row) -> str:
    """The channel's name, marked when it was private, so whoever shares an export knows."""
    where = f"#{row[_CHANNEL]}" if row[_CHANNEL] else str(row[_CHANNEL_ID])
    return f"{where} ({PRIVATE_MARK})" if row[_PRIVATE] else where


def _author(row: Row) -> str:
    return "Anonymous" if row[_ANONYMOUS] else (row[_AUTHOR_NAME] or row[_AUTHOR_ID] or "Someone")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~&=-])")


def md_escape(text: str) -> str:
    """Text people wrote, as Markdown that shows it exactly and formats nothing."""
    lines = []
    for line in text.splitlines() or [""]:
        # Leading spaces would make an indented code block: keep them, unbreakable.
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].replace("\t", "    ").replace(" ", "\u00a0")
        escaped = indent + _MD_SPECIAL.sub(r"\\\1", body)
        # "1. " at the start of a line would become a list.
        escaped = re.sub(r"^(\s*\d+)\.", r"\1\\.", escaped)
        lines.append(escaped)
    return "  \n".join(lines)


def write_markdown(rows: Iterable[Row], out: TextIO, prompt_of: PromptLookup, title: str) -> int:
    out.write(f"# {md_escape(title)}\n")
    n = 0
    for thread in _threads(rows):
        first = thread.rows[0]
        prompt = prompt_of(first[_PROMPT]) if first[_PROMPT] else None
        heading = _where(first)
        if prompt is not None:
            out.write(f"\n## {md_escape(prompt.title)} ({md_escape(heading)})\n\n")
            out.write(f"*Reflection prompt, {md_escape(first[_TOPIC] or prompt.topic)}*\n\n")
            out.write("> " + md_escape(prompt.text).replace("  \n", "  \n> ") + "\n")
        else:
            out.write(f"\n## Conversation in {md_escape(heading)}, {_when(first[_CREATED])}\n")
        for row in thread.rows:
            n += 1
            out.write(f"\n**{md_escape(_author(row))}**, {_when(row[_CREATED])}  \n")
            out.write(md_escape(row[_TEXT]) + "\n")
    return n


_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1d1c1d}section{border-top:1px solid #ddd;margin-top:2rem}"
    "blockquote{border-left:4px solid #005eb8;margin:0;padding:.2rem 1rem;background:#f3f7fb}"
    ".meta{color:#616061;font-size:.85rem}.msg{margin:1rem 0}.text{white-space:pre-wrap}"
)


def write_html(rows: Iterable[Row], out: TextIO, prompt_of: PromptLookup, title: str) -> int:
    e = html.escape
    out.write(
        '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_PAGE_STYLE}</style></head><body>\n"
        f"<h1>{e(title)}</h1>\n"
    )
    n = 0
    for thread in _threads(rows):
        first = thread.rows[0]
        prompt = prompt_of(first[_PROMPT]) if first[_PROMPT] else None
        where = _where(first)
        out.write("<section>\n")
        if prompt is not None:
            out.write(
                f"<h2>{e(prompt.title)} <span class=meta>({e(where)})</span></h2>\n"
                f"<p class=meta>Reflection prompt, {e(first[_TOPIC] or prompt.topic)}</p>\n"
                f"<blockquote>{e(prompt.text)}</blockquote>\n"
            )
        else:
            out.write(f"<h2>Conversation in {e(where)}, {e(_when(first[_CREATED]))}</h2>\n")
        for row in thread.rows:
            n += 1
            out.write(
                f"<div class=msg><div class=meta><strong>{e(_author(row))}</strong>, "
                f"{e(_when(row[_CREATED]))}</div><div class=text>{e(row[_TEXT])}</div></div>\n"
            )
        out.write("</section>\n")
    out.write("</body></html>\n")
    return n
