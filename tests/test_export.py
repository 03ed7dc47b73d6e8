"""Export formats: fields, escaping (hypothesis), pseudonyms, threads, and the CLI."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.archive_export import (
    FIELDS,
    Pseudonyms,
    md_escape,
    neutralise_cell,
    records,
    write_csv,
    write_html,
    write_json,
    write_jsonl,
    write_markdown,
)
from bot.cli import cli
from bot.records import Prompt


def row(
    text: str,
    author: str = "slack:U1",
    name: str = "Ade Bello",
    thread: str = "1.0",
    msg: str = "1.1",
    prompt: str = "",
    created: str = "2026-03-03T10:00:00.000000Z",
    private: bool = False,
) -> tuple:
    values = {
        "platform": "slack",
        "channel_id": "C1",
        "channel_name": "north",
        "thread_id": thread,
        "message_id": msg,
        "author_id": author,
        "author_name": name,
        "anonymous": 0,
        "text": text,
        "created_at": created,
        "edited_at": None,
        "prompt_id": prompt,
        "topic": "language" if prompt else "",
        "region": "north",
        "private": int(private),
    }
    return tuple(values[f] for f in FIELDS)


PROMPT = Prompt(
    "language-x", "language", "Words we use", "Which words do you use?", ("Why?",), "note"
)


def lookup(prompt_id: str) -> Prompt | None:
    return PROMPT if prompt_id == PROMPT.id else None


def test_jsonl_records_carry_exactly_the_documented_fields() -> None:
    out = io.StringIO()
    assert write_jsonl([row("hello"), row("again", msg="1.2")], out) == 2
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(first) == list(FIELDS)
    assert first["anonymous"] is False and first["created_at"] == "2026-03-03T10:00:00.000000Z"
    assert second["text"] == "again"


def test_json_is_one_valid_array_even_when_empty() -> None:
    out = io.StringIO()
    write_json([row("a"), row("b")], out)
    assert [r["text"] for r in json.loads(out.getvalue())] == ["a", "b"]
    empty = io.StringIO()
    write_json([], empty)
    assert json.loads(empty.getvalue()) == []


@pytest.mark.parametrize("text", ["=SUM(A1:A9)", "+1", "-2", "@cmd", "\tx", "\rx"])
def test_csv_cells_that_would_run_as_formulas_are_written_as_text(text: str) -> None:
    out = io.StringIO()
    write_csv([row(text, name=text)], out)
    header, values = list(csv.reader(io.StringIO(out.getvalue())))
    record = dict(zip(header, values, strict=True))
    assert record["text"] == "'" + text and record["author_name"] == "'" + text


@settings(max_examples=200)
@given(st.text())
def test_csv_round_trips_any_text_and_never_starts_a_cell_with_a_formula(text: str) -> None:
    out = io.StringIO()
    write_csv([row(text)], out)
    _, values = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    cell = values[FIELDS.index("text")]
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell == neutralise_cell(text)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, tuple]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, tuple(attrs)))

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)


@settings(max_examples=200)
@given(
    st.lists(
        st.sampled_from([*"<>&\"'/=ab \n;", "<script>", "<img src=x onerror=alert(1)>", "&amp;"])
    ).map("".join)
)
def test_html_shows_any_text_as_text_and_adds_no_tags(text: str) -> None:
    baseline, out = io.StringIO(), io.StringIO()
    write_html([row("plain", name="plain")], baseline, lookup, "Archive")
    write_html([row(text, name=text)], out, lookup, "Archive")
    expected, parsed = _Tags(), _Tags()
    expected.feed(baseline.getvalue())
    parsed.feed(out.getvalue())
    assert parsed.tags == expected.tags  # the same elements and attributes, whatever the text
    assert text.replace("\r\n", "\n").replace("\r", "\n") in "".join(parsed.text).replace(
        "\r\n", "\n"
    ).replace("\r", "\n")


MD = MarkdownIt("commonmark")


def _inline_types(markdown: str) -> set[str]:
    kinds = set()
    for token in MD.parse(markdown):
        if token.type not in ("paragraph_open", "paragraph_close", "inline"):
            kinds.add(token.type)
        for child in token.children or []:
            kinds.add(child.type)
    return kinds


@settings(max_examples=1500)
@given(
    st.lists(
        st.sampled_from(
            [*"*_`[]()<>#!|~-+.=\\:/ab 1\n", "https://x.org", "<b>", "1. ", "# ", "---", "&amp;"]
        )
    ).map("".join)
)
def test_markdown_shows_any_text_literally(text: str) -> None:
    escaped = md_escape(text)
    assert _inline_types(escaped) <= {"text", "softbreak", "hardbreak"}
    rendered = MD.renderInline(escaped)
    # what people wrote, and nothing else, comes back (as HTML text)
    import html

    plain = html.unescape(rendered.replace("<br />\n", "\n"))
    assert plain.replace("\n", " ").split() == text.replace("\r", "\n").replace("\n", " ").split()


def test_markdown_has_one_section_per_thread_with_its_prompt_first() -> None:
    out = io.StringIO()
    rows = [
        row("first reply", thread="1.0", msg="1.1", prompt="language-x"),
        row("second reply", thread="1.0", msg="1.2", prompt="language-x", name="Sam"),
        row("elsewhere", thread="2.0", msg="2.0"),
    ]
    assert write_markdown(rows, out, lookup, "Archive") == 3
    text = out.getvalue()
    sections = text.split("\n## ")[1:]
    assert len(sections) == 2
    assert sections[0].startswith("Words we use (\\#north)")
    assert (
        sections[0].index("Which words do you use?")
        < sections[0].index("first reply")
        < sections[0].index("second reply")
    )
    assert sections[1].startswith("Conversation in \\#north, 3 March 2026")


def test_pseudonyms_are_consistent_and_replace_names_in_text() -> None:
    rows = [
        row("Hi all", author="slack:U2", name="Sam Okafor"),
        row("Thanks @Sam Okafor, and Ade Bello agrees", author="slack:U1", name="Ade Bello"),
        row("Sam again", author="slack:U2", name="Sam Okafor"),
    ]
    p = Pseudonyms([("slack:U2", "Sam Okafor"), ("slack:U1", "Ade Bello")])
    out = [dict(zip(FIELDS, r, strict=False)) for r in records(rows, p)]
    assert [(r["author_id"], r["author_name"]) for r in out] == [
        ("participant-1", "Participant 1"),
        ("participant-2", "Participant 2"),
        ("participant-1", "Participant 1"),
    ]
    assert out[1]["text"] == "Thanks Participant 1, and Participant 2 agrees"
    assert "Sam Okafor" not in json.dumps(out)


async def _seed(db_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.records import ArchivedMessage
    from storage.archive import SqliteArchiveRepository
    from storage.database import Database

    db = Database.open(db_path)
    repo = SqliteArchiveRepository(db)
    for i, (text, channel, region, day) in enumerate(
        [
            ("=1+1 in March", "north", "north", 3),
            ("London in April", "london", "london", 4),
            ("North in May", "north", "north", 5),
        ]
    ):
        await repo.capture(
            ArchivedMessage(
                "slack",
                "T1",
                f"C{channel}",
                channel,
                f"{i}.0",
                f"{i}.0",
                f"slack:U{i}",
                f"Person {i}",
                False,
                text,
                datetime(2026, day, 10, tzinfo=UTC),
                region=region,
            )
        )
    db.close()


@pytest.fixture
def seeded(db_path: Path) -> Path:
    import asyncio

    asyncio.run(_seed(db_path))
    return db_path


def test_cli_export_formats_filters_and_file_output(seeded: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(seeded)]
    result = runner.invoke(cli, ["export", *db])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == [
        "=1+1 in March",
        "London in April",
        "North in May",
    ]
    north = runner.invoke(cli, ["export", "--region", "north", "--since", "2026-04-01", *db])
    assert [json.loads(line)["text"] for line in north.output.splitlines()] == ["North in May"]
    until = runner.invoke(cli, ["export", "--until", "2026-04-10", "--channel", "#london", *db])
    assert [json.loads(line)["text"] for line in until.output.splitlines()] == ["London in April"]
    out = tmp_path / "archive.csv"
    result = runner.invoke(
        cli, ["export", "--format", "csv", "-o", str(out), "--pseudonymise", *db]
    )
    assert result.exit_code == 0
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["text"] == "'=1+1 in March" and rows[0]["author_name"] == "Participant 1"
    bad = runner.invoke(cli, ["export", "--since", "last week", *db])
    assert bad.exit_code == 2 and "isn't a date" in bad.output


def test_cli_export_shows_no_progress_bar_in_a_pipe(seeded: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--format", "markdown", "--db", str(seeded)])
    assert result.exit_code == 0
    assert "Exporting" not in result.output
    assert result.output.startswith("# Community archive")


def test_cli_search_and_erase(seeded: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(seeded)]
    found = runner.invoke(cli, ["search", "north", "--format", "json", *db])
    assert [h["text"] for h in json.loads(found.output)] == ["North in May"]
    assert "[North] in May" in runner.invoke(cli, ["search", "North", *db]).output
    erased = runner.invoke(cli, ["erase", "--user", "slack:U2", *db])
    assert erased.exit_code == 0 and erased.output.startswith("Erased 1 message(s) by slack:U2")
    assert runner.invoke(cli, ["search", "north", "--format", "json", *db]).output.strip() == "[]"
    assert b"north in may" not in seeded.read_bytes().lower()


def test_someone_unknown_when_the_export_began_is_still_pseudonymised() -> None:
    p = Pseudonyms([("slack:U1", "Ade Bello")])
    late = dict(
        zip(FIELDS, p.row(row("hello", author="slack:U9", name="Newcomer Name")), strict=True)
    )
    assert (late["author_id"], late["author_name"]) == ("participant-2", "Participant 2")
