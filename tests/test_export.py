"""Export formats: fields, escaping (hypothesis), pseudonyms, threads, and the CLI."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.archive_export import (
    FIELDS,
    Cover,
    Pseudonyms,
    describe_filter,
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
from bot.records import ArchivedMessage, ArchiveFilter, Prompt
from bot.services.exports import run_export


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


COVER = Cover(prompt_of=lookup, title="Archive")


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
    write_html([row("plain", name="plain")], baseline, COVER)
    write_html([row(text, name=text)], out, COVER)
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
            [
                *"*_`[]()<>#!|~-+.=\\:/ab 1\n",
                "https://x.org",
                "<b>",
                "1. ",
                "1) ",
                "# ",
                "---",
                "&amp;",
            ]
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
    assert write_markdown(rows, out, COVER) == 3
    text = out.getvalue()
    sections = text.split("\n## ")[1:]
    assert len(sections) == 2
    assert sections[0].startswith("Words we use (#north)")
    assert (
        sections[0].index("Which words do you use?")
        < sections[0].index("first reply")
        < sections[0].index("second reply")
    )
    assert sections[1].startswith("Conversation in #north, Tue 3 Mar 2026, 10:00")


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


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_a_pseudonymised_export_of_one_author_does_not_name_them_on_its_cover(
    seeded: Path, fmt: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["export", "--format", fmt, "--author", "slack:U2", "--pseudonymise", "--db", str(seeded)],
    )
    assert result.exit_code == 0, result.output
    assert "North in May" in result.output
    assert "U2" not in result.output and "messages by one participant" in result.output


def test_cli_export_shows_no_progress_bar_in_a_pipe(seeded: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--format", "markdown", "--db", str(seeded)])
    assert result.exit_code == 0
    assert "Exporting" not in result.output
    assert result.output.startswith("# Community archive")


def test_cli_search_longer_than_copbot_reads_is_refused_in_words(seeded: Path) -> None:
    result = CliRunner().invoke(
        cli, ["search", *[f"word{i}" for i in range(17)], "--db", str(seeded)]
    )
    assert result.exit_code == 2
    assert "Invalid value for QUERY: That search has 17 words and phrases" in result.output
    assert "Traceback" not in result.output


def test_cli_search_and_erase(seeded: Path) -> None:
    runner = CliRunner()
    db = ["--db", str(seeded)]
    found = runner.invoke(cli, ["search", "north", "--format", "json", *db])
    assert [h["text"] for h in json.loads(found.output)] == ["North in May"]
    assert "[North] in May" in runner.invoke(cli, ["search", "North", *db]).output
    erased = runner.invoke(cli, ["erase", "--user", "slack:U2", *db])
    assert erased.exit_code == 0 and erased.output.startswith("Erased 1 message(s) by slack:U2")
    # What stays, and why, as the features declare it: an admin answering a request says so.
    assert "Kept: roles, because a role is access" in erased.output
    assert "audit trail, because admins answer for access with it" in erased.output
    assert runner.invoke(cli, ["search", "north", "--format", "json", *db]).output.strip() == "[]"
    assert b"north in may" not in seeded.read_bytes().lower()


def test_every_name_someone_wrote_under_is_replaced_by_their_one_label() -> None:
    p = Pseudonyms([("slack:U1", "Ann"), ("slack:U1", "Annabel Okafor"), ("slack:U2", "Bob")])
    out = dict(
        zip(
            FIELDS,
            p.row(row("thanks @Annabel Okafor and Ann", author="slack:U2", name="Bob")),
            strict=True,
        )
    )
    assert (out["author_id"], out["text"]) == (
        "participant-2",
        "thanks Participant 1 and Participant 1",
    )


async def test_a_pseudonymised_export_hides_a_renamed_author_s_every_name(tmp_path: Path) -> None:
    from storage.archive import SqliteArchiveRepository
    from storage.archive_reader import SqliteArchiveReader
    from storage.database import Database

    path = tmp_path / "copbot.db"
    db = Database.open(path)
    repo = SqliteArchiveRepository(db)
    said = [
        ("slack:U1", "Ann", "hello"),
        ("slack:U1", "Annabel Okafor", "I changed my display name"),
        ("slack:U2", "Bob", "thanks @Annabel Okafor and Ann"),
    ]
    for i, (author, name, text) in enumerate(said):
        await repo.capture(
            ArchivedMessage(
                "slack", "T1", "C1", "north", f"m{i}", f"m{i}", author, name, False, text,
                datetime(2026, 3, 1, 10, i, tzinfo=UTC),
            )
        )  # fmt: skip
    db.close()
    for fmt in ("jsonl", "markdown", "html"):
        out = io.StringIO()
        run_export(SqliteArchiveReader(path), fmt, ArchiveFilter(), out, Cover(), pseudonymise=True)
        assert "Ann" not in out.getvalue() and "Okafor" not in out.getvalue(), fmt
        assert "thanks Participant 1 and Participant 1" in out.getvalue(), fmt


def test_someone_unknown_when_the_export_began_is_still_pseudonymised() -> None:
    p = Pseudonyms([("slack:U1", "Ade Bello")])
    late = dict(
        zip(FIELDS, p.row(row("hello", author="slack:U9", name="Newcomer Name")), strict=True)
    )
    assert (late["author_id"], late["author_name"]) == ("participant-2", "Participant 2")


# -- exports people read ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Well-being (and self-care) = 100% + more! See #north, 3.5 & co.",
        "snake_case and e-mail: a.b@nhs.net, https://example.org/a_b?x=1&y=2",
        'Isn\'t it? "Yes" {maybe}',
    ],
)
def test_markdown_leaves_ordinary_punctuation_alone(text: str) -> None:
    assert md_escape(text) == text


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*really*", "\\*really\\*"),
        ("_really_", "\\_really\\_"),
        ("- not a list", "\\- not a list"),
        ("# not a heading", "\\# not a heading"),
        ("> not a quote", "\\> not a quote"),
        ("1. not a list", "1\\. not a list"),
        ("2) not a list", "2\\) not a list"),
        ("[not](a link)", "\\[not\\](a link)"),
        ("<b>not bold</b>", "\\<b>not bold\\</b>"),
        ("&amp; stays", "\\&amp; stays"),
        ("a | b ~~c~~ `d`", "a \\| b \\~\\~c\\~\\~ \\`d\\`"),
    ],
)
def test_markdown_escapes_what_would_format(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


TOPICS = {"language": "Use of language"}
FULL = Prompt(
    "language-x",
    "language",
    "Words we use",
    "Which words do you use?",
    ("Why those words?", "Who taught you them?"),
    "note",
)
READING = Cover(
    community="Slack workspace T1",
    filters="region North",
    exported_by="Alex Morgan",
    exported_at=datetime(2026, 7, 1, 13, 5, tzinfo=UTC),
    count=2,
    prompt_of=lambda pid: FULL if pid == FULL.id else None,
    topic_name=lambda slug: TOPICS.get(slug, slug),
)
SUMMER_ROWS = [
    row("first reply", msg="1.1", prompt="language-x", created="2026-07-01T09:00:00.000000Z"),
    row("second", msg="1.2", prompt="language-x", name="Sam", created="2026-07-01T13:05:00Z"),
]


def test_markdown_opens_with_what_it_is_and_threads_with_their_prompt() -> None:
    out = io.StringIO()
    assert write_markdown(SUMMER_ROWS, out, READING) == 2
    tokens = MarkdownIt("commonmark").parse(out.getvalue())
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Community archive", "Words we use (#north)"]
    opening, thread = out.getvalue().split("\n## ", 1)
    for line in [
        "- **Community:** Slack workspace T1",
        "- **Filters:** region North",
        "- **Messages:** 2",
        "- **Exported:** Wed 1 Jul 2026, 14:05 by Alex Morgan",
        "- **Times:** Europe/London time, 24-hour clock",
    ]:
        assert line in opening
    assert "colleagues' words" in opening and "trusted" in opening
    assert "*Reflection prompt on Use of language*" in thread
    assert "> Which words do you use?" in thread
    assert "> - Why those words?\n> - Who taught you them?" in thread
    # times people read: London summer time, 24-hour, UK date order
    assert "**Ade Bello**, Wed 1 Jul 2026, 10:00" in thread
    assert "**Sam**, Wed 1 Jul 2026, 14:05" in thread


def test_html_opens_with_what_it_is_and_threads_with_their_prompt() -> None:
    out = io.StringIO()
    assert write_html(SUMMER_ROWS, out, READING) == 2
    page = _Tags()
    page.feed(out.getvalue())
    text = " ".join(" ".join(page.text).split())
    assert "Community Slack workspace T1" in text
    assert "Filters region North" in text and "Messages 2" in text
    assert "Exported Wed 1 Jul 2026, 14:05 by Alex Morgan" in text
    assert "colleagues' words" in out.getvalue().replace("&#x27;", "'")
    assert "Reflection prompt on Use of language" in text
    assert "Follow-up questions: Why those words? Who taught you them?" in text
    assert "Ade Bello , Wed 1 Jul 2026, 10:00" in text
    assert ("time", (("datetime", "2026-07-01T09:00:00.000000Z"),)) in page.tags


@pytest.mark.parametrize("writer", [write_markdown, write_html])
def test_an_empty_export_says_so(writer) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    assert writer([], out, replace(READING, count=0)) == 0
    assert "Nothing in the archive matched" in out.getvalue()
    full = io.StringIO()
    writer(SUMMER_ROWS, full, READING)
    assert "Nothing in the archive matched" not in full.getvalue()


def test_filters_are_described_in_words_and_uk_days() -> None:
    f = ArchiveFilter(
        "#north",
        "language",
        "north",
        "slack:U1",
        datetime(2026, 2, 28, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 23, 0, tzinfo=UTC),  # midnight in London (BST)
    )
    assert describe_filter(f, lambda slug: TOPICS[slug], ZoneInfo("Europe/London")) == (
        "channel #north; topic Use of language; region North; messages by slack:U1; "
        "from Sat 28 Feb 2026; up to Wed 1 Apr 2026"
    )
    assert describe_filter(ArchiveFilter(), str, ZoneInfo("Europe/London")) == (
        "none (the whole archive)"
    )


def test_cli_markdown_export_names_its_filters_count_and_topics(seeded: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["export", "--format", "markdown", "--region", "north", "--db", str(seeded)],
        env={"COPBOT_TIMEZONE": "Europe/London"},
    )
    assert result.exit_code == 0, result.output
    assert "- **Filters:** region North" in result.output
    assert "- **Messages:** 2" in result.output
    assert "on the command line" in result.output or "by the command line" in result.output
    # 10 March 2026 00:00 UTC is still 10 March in London (GMT)
    assert "Conversation in #north, Tue 10 Mar 2026, 00:00" in result.output


@pytest.mark.parametrize("writer", [write_markdown, write_html])
def test_right_to_left_words_stay_in_their_place(writer) -> None:  # type: ignore[no-untyped-def]
    """An override someone typed, or a name in Arabic, reorders nothing around it: the time
    after a name, the words after a message."""
    out = io.StringIO()
    rows = [
        row("\u202eevil", name="Sam\u202e", msg="1.1"),
        row("calm words", name="\u0633\u0627\u0631\u0627", msg="1.2"),
    ]
    writer(rows, out, COVER)
    text = out.getvalue()
    assert "\u2068Sam\u202e\u2069" in text and "\u2068\u0633\u0627\u0631\u0627\u2069" in text
    if writer is write_markdown:
        assert "\u2068\u202eevil\u2069" in text
    else:
        assert "<div class=text dir=auto>\u202eevil</div>" in text
    assert "\u2068calm words" not in text  # words without either are left as they are
