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
from itertools import groupby
from operator import itemgetter
from typing import Any, Literal, TextIO
from zoneinfo import ZoneInfo

from bot.export_clock import DayClock
from bot.markup import isolated
from bot.records import ArchiveFilter, Prompt
from bot.timefmt import UK, for_people

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
    "private",  # from a channel only its members could see (every Teams channel: its team)
)
FORMATS = ("jsonl", "json", "csv", "markdown", "html")
THREADED = frozenset({"markdown", "html"})  # these need rows in thread order
# What those readable formats show, or group by; storage need not read the rest.
READABLE_FIELDS = frozenset(FIELDS) - {"message_id", "edited_at", "region"}

Row = tuple[Any, ...]
PromptLookup = Callable[[str], Prompt | None]

# The record formats storage can write itself (storage/archive_encode.py): it hands them
# over as chunks, each some records joined by the format's separator, with their count.
Encoding = Literal["jsonl", "json", "csv"]
ENCODINGS: tuple[Encoding, ...] = ("jsonl", "json", "csv")
SEPARATORS: dict[Encoding, str] = {"jsonl": "\n", "json": ",\n", "csv": "\r\n"}
Chunk = tuple[int, str]

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
PRIVATE_MARK = "members only"


class Pseudonyms:
    """Authors become "Participant 1", "Participant 2"… in order of their first message,
    consistently through one export; their names are replaced in the text too, every name
    each is known by (``authors`` may list an identity once for each)."""

    def __init__(self, authors: Iterable[tuple[str, str]]) -> None:
        self._by_id: dict[str, tuple[str, str]] = {}
        names: dict[str, str] = {}
        for identity, name in authors:
            if identity not in self._by_id:
                n = len(self._by_id) + 1
                self._by_id[identity] = (f"participant-{n}", f"Participant {n}")
            if name.strip():
                names.setdefault(name.strip(), self._by_id[identity][1])
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


def write(fmt: str, rows: Iterable[Row], out: TextIO, cover: Cover | None = None) -> int:
    """Write ``rows`` to ``out`` in ``fmt``; return how many were written. ``cover`` is what
    the readable formats (Markdown, HTML) open with; the others are records only."""
    readable = cover or Cover()
    writers: dict[str, Callable[[Iterable[Row], TextIO], int]] = {
        "jsonl": write_jsonl,
        "json": write_json,
        "csv": write_csv,
        "markdown": lambda r, o: write_markdown(r, o, readable),
        "html": lambda r, o: write_html(r, o, readable),
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
CSV_HEADER = ",".join(FIELDS) + "\r\n"


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


def write_encoded(encoding: Encoding, chunks: Iterable[Chunk], out: TextIO) -> int:
    """Write records storage already wrote in ``encoding`` (the same bytes as write_jsonl,
    write_json and write_csv give); return how many there were."""
    n = 0
    between = SEPARATORS[encoding]
    if encoding == "csv":
        out.write(CSV_HEADER)
    elif encoding == "json":
        out.write("[")
    for count, text in chunks:
        if encoding == "json":
            out.write("\n" if n == 0 else between)
            out.write(text)
        else:
            out.write(text)
            out.write(between)
        n += count
    if encoding == "json":
        out.write("\n]\n" if n else "]\n")
    return n


def _threads(rows: Iterable[Row]) -> Iterator[list[Row]]:
    """Consecutive rows of one thread (rows arrive in thread order), one thread at a time."""
    for _, thread in groupby(rows, key=itemgetter(_CHANNEL_ID, _THREAD)):
        yield list(thread)


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text)  # "…Z" is UTC


def _where(row: Row) -> str:
    """The channel's name, marked when it was private, so whoever shares an export knows."""
    where = isolated(f"#{row[_CHANNEL]}" if row[_CHANNEL] else str(row[_CHANNEL_ID]))
    return f"{where} ({PRIVATE_MARK})" if row[_PRIVATE] else where


def _author(row: Row) -> str:
    if row[_ANONYMOUS]:
        return "Anonymous"
    return isolated(row[_AUTHOR_NAME] or row[_AUTHOR_ID] or "Someone")


def _shown_authors(escape: Callable[[str], str]) -> Callable[[Row], str]:
    """``escape(_author(row))``, each name escaped once however many messages it wrote."""
    shown: dict[tuple[Any, Any, Any], str] = {}

    def author(row: Row) -> str:
        key = (row[_ANONYMOUS], row[_AUTHOR_NAME], row[_AUTHOR_ID])
        if (found := shown.get(key)) is None:
            found = shown[key] = escape(_author(row))
        return found

    return author


# -- the readable formats ---------------------------------------------------------------

CARE_NOTE = (
    "These are colleagues' words, written in conversations they trusted to stay among peers. "
    "Please keep this with the people it was made for, ask before quoting anyone beyond them, "
    "and delete it once it has done its job."
)
EMPTY_NOTE = "Nothing in the archive matched, so this export has no messages."


def _no_prompt(prompt_id: str) -> Prompt | None:
    return None


def _slug(slug: str) -> str:
    return slug


@dataclass(frozen=True)
class Cover:
    """What a readable export (Markdown, HTML) says about itself before the first thread,
    and how it names prompts, topics and times."""

    community: str = ""
    filters: str = "none (the whole archive)"
    exported_by: str = ""
    exported_at: datetime | None = None
    count: int | None = None
    timezone: ZoneInfo = UK
    prompt_of: PromptLookup = _no_prompt
    topic_name: Callable[[str], str] = _slug
    title: str = "Community archive"
    left_out: str = ""  # what isn't in it that the person who asked may read, and why

    def when(self, text: str) -> str:
        return for_people(_moment(text), self.timezone)

    def clock(self) -> DayClock:
        """``when``, for writing many messages: each day's offset is worked out once."""
        return DayClock(self.timezone)

    def facts(self) -> list[tuple[str, str]]:
        """(label, words) lines for the opening, in reading order."""
        facts = []
        if self.community:
            facts.append(("Community", self.community))
        facts.append(("Filters", self.filters))
        if self.left_out:
            facts.append(("Left out", self.left_out))
        if self.count is not None:
            facts.append(("Messages", f"{self.count:,}"))
        if self.exported_at is not None:
            by = f" by {self.exported_by}" if self.exported_by else ""
            facts.append(("Exported", f"{for_people(self.exported_at, self.timezone)}{by}"))
        facts.append(("Times", f"{self.timezone.key} time, 24-hour clock"))
        return facts


def describe_filter(
    f: ArchiveFilter,
    topic_name: Callable[[str], str],
    tz: ZoneInfo,
    *,
    pseudonymised: bool = False,
) -> str:
    """The filters an export was made with, in words."""
    parts = []
    if f.channel:
        parts.append(f"channel #{f.channel.lstrip('#')}")
    if f.topic:
        parts.append(f"topic {topic_name(f.topic)}")
    if f.region:
        parts.append(f"region {f.region.title()}")
    if f.author:
        # A pseudonymised export must not name, on its cover, whom its messages are by.
        parts.append("messages by one participant" if pseudonymised else f"messages by {f.author}")
    if f.since:
        parts.append(f"from {for_people(f.since, tz, time=False)}")
    if f.until:
        parts.append(f"up to {for_people(f.until, tz, time=False)}")
    if f.viewer_channels is not None:
        parts.append("members-only channels: only those the person who asked is in")
    return "; ".join(parts) if parts else "none (the whole archive)"


# Characters that format text wherever they stand (CommonMark, and GFM's tables and
# strikethrough); others only matter at the start of a line, handled below.
_MD_INLINE = re.compile(r"([\\`*\[\]<|~])")
# "_" inside a word (snake_case) formats nothing; at a word's edge it can start emphasis.
_MD_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
_MD_ENTITY = re.compile(r"&(?=#?\w+;)")  # "&amp;" would show as "&"
# Headings, block quotes, list items, rules and setext underlines start a line.
_MD_LINE_START = re.compile(r"^([#>+=-]|\d{1,9}(?=[.)]))")


# Most messages hold none of these: one line, nothing to escape, no leading space.
_MD_PLAIN = re.compile(r"[^\s\\`*\[\]<|~_&][^\\`*\[\]<|~_&\n\r\v\f\x1c-\x1e\x85\u2028\u2029]*")


def md_escape(text: str, *, mid_line: bool = False) -> str:
    """Text people wrote, as Markdown that shows it exactly and formats nothing; only the
    characters that would format something are escaped, so the file stays readable.
    ``mid_line``: the text follows other text on its first line (a heading, a label)."""
    if _MD_PLAIN.fullmatch(text) and (mid_line or not _MD_LINE_START.match(text)):
        return text
    lines = []
    for number, line in enumerate(text.splitlines() or [""]):
        # Leading spaces would make an indented code block: keep them, unbreakable.
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].replace("\t", "    ").replace(" ", "\u00a0")
        body = _MD_INLINE.sub(r"\\\1", body)
        body = _MD_UNDERSCORE.sub(r"\\_", body)
        body = _MD_ENTITY.sub(r"\\&", body)
        start = None if mid_line and number == 0 else _MD_LINE_START.match(body)
        if start and start.group(1)[0].isdigit():
            body = f"{start.group(1)}\\{body[start.end() :]}"  # "1." or "1)" starts a list
        elif start:
            body = "\\" + body
        lines.append(indent + body)
    return "  \n".join(lines)


def _topic_of(first: Row, prompt: Prompt, cover: Cover) -> str:
    return cover.topic_name(first[_TOPIC] or prompt.topic)


def write_markdown(rows: Iterable[Row], out: TextIO, cover: Cover) -> int:
    e = md_escape

    def inline(text: str) -> str:
        return md_escape(text, mid_line=True)

    out.write(f"# {inline(cover.title)}\n\n")
    for label, words in cover.facts():
        out.write(f"- **{label}:** {inline(words)}\n")
    out.write(f"\n> {e(CARE_NOTE)}\n")
    when = cover.clock()
    author = _shown_authors(inline)
    n = 0
    for thread in _threads(rows):
        first = thread[0]
        prompt = cover.prompt_of(first[_PROMPT]) if first[_PROMPT] else None
        where = inline(_where(first))
        if prompt is not None:
            out.write(f"\n## {inline(prompt.title)} ({where})\n\n")
            out.write(f"*Reflection prompt on {inline(_topic_of(first, prompt, cover))}*\n\n")
            out.write("> " + e(prompt.text).replace("  \n", "  \n> ") + "\n")
            if prompt.follow_ups:
                out.write(">\n> Follow-up questions:\n>\n")
                out.writelines(f"> - {e(q)}\n" for q in prompt.follow_ups)
        else:
            out.write(f"\n## Conversation in {where}, {when(first[_CREATED])}\n")
        # One write a thread: a call per line costs as much as formatting it.
        out.write(
            "".join(
                f"\n**{author(row)}**, {when(row[_CREATED])}  \n{e(isolated(row[_TEXT]))}\n"
                for row in thread
            )
        )
        n += len(thread)
    if n == 0:
        out.write(f"\n{EMPTY_NOTE}\n")
    return n


_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1d1c1d}section{border-top:1px solid #ddd;margin-top:2rem}"
    "blockquote{border-left:4px solid #005eb8;margin:0;padding:.2rem 1rem;background:#f3f7fb}"
    "dl.cover{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}"
    "dl.cover dt{font-weight:600}dl.cover dd{margin:0}"
    ".care{background:#fff8e1;border-left:4px solid #ffb81c;padding:.5rem 1rem}"
    ".meta{color:#616061;font-size:.85rem}.msg{margin:1rem 0}.text{white-space:pre-wrap}"
)


def _time_html(moment: str | int, when: DayClock) -> str:
    # Both are copbot's own: storage's times are ISO 8601 made from integers, and when's
    # words are letters, digits, commas and a colon. Nothing to escape.
    text, words = when.stamp(moment)
    return f'<time datetime="{text}">{words}</time>'


def write_html(rows: Iterable[Row], out: TextIO, cover: Cover) -> int:
    e = html.escape
    facts = "".join(f"<dt>{e(label)}</dt><dd>{e(words)}</dd>" for label, words in cover.facts())
    out.write(
        '<!doctype html>\n<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(cover.title)}</title><style>{_PAGE_STYLE}</style></head><body>\n"
        f"<h1>{e(cover.title)}</h1>\n<dl class=cover>{facts}</dl>\n"
        f"<p class=care>{e(CARE_NOTE)}</p>\n"
    )
    when = cover.clock()
    author = _shown_authors(e)
    n = 0
    for thread in _threads(rows):
        first = thread[0]
        prompt = cover.prompt_of(first[_PROMPT]) if first[_PROMPT] else None
        where = e(_where(first))
        out.write("<section>\n")
        if prompt is not None:
            follow_ups = "".join(f"<li>{e(q)}</li>" for q in prompt.follow_ups)
            out.write(
                f"<h2>{e(prompt.title)} <span class=meta>({where})</span></h2>\n"
                f"<p class=meta>Reflection prompt on {e(_topic_of(first, prompt, cover))}</p>\n"
                f"<blockquote><p>{e(prompt.text)}</p>"
                + (f"<p>Follow-up questions:</p><ul>{follow_ups}</ul>" if follow_ups else "")
                + "</blockquote>\n"
            )
        else:
            out.write(f"<h2>Conversation in {where}, {_time_html(first[_CREATED], when)}</h2>\n")
        out.write(
            "".join(
                f"<div class=msg><div class=meta><strong>{author(row)}</strong>, "
                f"{_time_html(row[_CREATED], when)}</div>"
                f"<div class=text dir=auto>{e(row[_TEXT])}</div></div>\n"
                for row in thread
            )
        )
        n += len(thread)
        out.write("</section>\n")
    if n == 0:
        out.write(f"<p class=empty>{e(EMPTY_NOTE)}</p>\n")
    out.write("</body></html>\n")
    return n
