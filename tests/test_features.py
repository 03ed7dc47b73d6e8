"""Features plug in one way: what they declare is wired, and erasure reaches what they keep."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import CORE, DATABASES, create_app
from bot.model import MessagePosted, MessageRef, Role
from bot.records import Prompt
from bot.registry import PersonalData, Registry
from bot.services.prompts import SUGGEST_FORM, PromptsFeature
from bot.services.schedules import SchedulesFeature
from bot.settings import Settings
from storage import sqlite as sqlite3
from tests.support.harness import ALEX, NORTH, PRIYA, SAM, Harness

# Column names that hold who someone is: a word for a person, whole, alone or in a longer
# name (`organiser`, `created_by`, `author_id`). A column of a new table named so must be
# declared by its feature as PersonalData, or this test fails: name one that holds people
# with one of these words.
IDENTITY_COLUMN = re.compile(
    r"(^|_)(identity|user|author|owner|person|people|by|organi[sz]er|member|attendee"
    r"|participant|recipient|invitee|host|speaker|requester|creator|sender|writer|editor"
    r"|reporter|assignee|respondent|voter|who|email)s?($|_)"
)
# Columns named like people that hold no one: whether copbot is in the channel.
NOT_PEOPLE = frozenset({"channels.bot_member"})


def _columns(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "select name from sqlite_master where type = 'table' and name not like 'sqlite_%'"
            )
        ]
        return {
            f"{table}.{column}"
            for table in tables
            for (_, column, *_rest) in conn.execute(f"pragma table_info('{table}')")
        }
    finally:
        conn.close()


def _declared(registry: Registry) -> dict[str, PersonalData]:
    return {place: data for data in registry.personal_data for place in data.holds}


async def test_every_column_that_names_people_is_declared_by_a_feature(bot: Harness) -> None:
    columns = _columns(bot.core.db.path)
    declared = _declared(bot.core.registry)
    people = {
        c for c in columns if IDENTITY_COLUMN.search(c.split(".", 1)[1]) and c not in NOT_PEOPLE
    }
    assert len(people) >= 10, people  # the pattern still finds what it should
    assert {"events.organiser", "event_rsvps.person", "audit.done_by"} <= people, people
    assert columns >= NOT_PEOPLE, "a column named here is gone: take it out of NOT_PEOPLE"
    missing = sorted(people - declared.keys())
    assert not missing, f"not reachable by erasure (declare them as PersonalData): {missing}"
    stale = sorted(declared.keys() - columns)
    assert not stale, f"declared but not in the schema: {stale}"


def test_personal_data_says_how_it_is_erased_or_why_it_is_kept() -> None:
    with pytest.raises(ValueError, match="say how it is erased"):
        PersonalData("notes", ("notes.author",), notice="Your notes.")

    async def forget(identity: str) -> int:
        return 0

    # And whether opting out erases it: no default to forget.
    with pytest.raises(ValueError, match="say whether opting out erases it"):
        PersonalData("notes", ("notes.author",), erase=forget, notice="Your notes.")
    assert PersonalData(
        "notes", ("notes.author",), erase=forget, on_opt_out=True, notice="Your notes."
    ).on_opt_out
    # And what the privacy page tells people it is: no notice that leaves it out.
    with pytest.raises(ValueError, match="say what the privacy page tells people"):
        PersonalData("notes", ("notes.author",), erase=forget, on_opt_out=True)


async def _leave_traces_everywhere(h: Harness) -> None:
    """Priya, a facilitator and admin, does everything copbot can keep a trace of."""
    await h.core.roles.grant(PRIYA.identity, Role.ADMIN, by=ALEX.identity)
    await h.join(NORTH)
    [post] = [s for s in await h.command("prompt language", PRIYA, NORTH) if s.kind == "post"]
    assert post.ref is not None
    reply = MessageRef(NORTH, "m-priya", post.ref.id)
    await h.deliver(MessagePosted("ev-1", reply, PRIYA, "a reply of Priya's", h.clock.now()))
    await h.command("schedule prompt any every tuesday at 10:00", PRIYA, NORTH)
    await h.submit(SUGGEST_FORM, {"topic": "language", "text": "A suggestion of Priya's"}, PRIYA)
    prompt = Prompt("priya-1", "language", "Mine", "A question?", ("Why?",), "Gently.")
    await h.core.feature(PromptsFeature)._repo.add(  # type: ignore[attr-defined]
        Prompt(**{**prompt.__dict__, "added_by": PRIYA.identity}), h.clock.now()
    )
    await h.command("export jsonl", PRIYA)
    # An event accepted but not handled yet.
    later = MessageRef(NORTH, "m-later", post.ref.id)
    await h.core.inbox.accept(MessagePosted("ev-2", later, PRIYA, "pending words", h.clock.now()))


def _places_naming(path: Path, needle: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        found = set()
        for table, column in (c.split(".", 1) for c in _columns(path)):
            if table.startswith("archive_fts"):
                continue  # the index is checked by the archive's own tests
            hits = conn.execute(
                f'select count(*) from "{table}" where cast("{column}" as text) like ?',
                [f"%{needle}%"],
            ).fetchone()[0]
            if hits:
                found.add(f"{table}.{column}")
        return found
    finally:
        conn.close()


@pytest.fixture
async def traced(db_path: Path) -> AsyncIterator[Harness]:
    """A copbot in which Priya has left a trace everywhere she can."""
    h = Harness.open(
        db_path,
        Settings(
            db_path=db_path, admins=frozenset({ALEX.identity}), public_url="http://copbot.test"
        ),
    )
    try:
        await _leave_traces_everywhere(h)
        yield h
    finally:
        h.close()


async def test_erasing_a_person_reaches_everything_every_feature_keeps(traced: Harness) -> None:
    h, db_path = traced, traced.core.db.path
    before = _places_naming(db_path, PRIYA.identity)
    # Everything the features declared holds a trace, so the check below means something.
    assert {
        "archive_authors.author_id",
        "prompt_posts.posted_by",
        "recurrences.owner",
        "prompt_suggestions.suggested_by",
        "custom_prompts.added_by",
        "export_links.created_by",
        "inbox.identity",
    } <= before, before

    erased = await h.core.erasure.erase(PRIYA.identity)

    kept = {p for p, d in _declared(h.core.registry).items() if d.erase is None}
    left = _places_naming(db_path, PRIYA.identity)
    assert left <= kept, f"erasure missed: {sorted(left - kept)}"
    assert erased.of("archived message(s)") == 1
    assert erased.of("prompt suggestion(s)") == 1
    assert erased.of("event(s) not yet handled") == 1
    assert await h.core.roles.role_of(PRIYA.identity) is Role.ADMIN  # roles are kept


async def test_opting_out_leaves_suggestions_given_by_name(bot: Harness) -> None:
    await bot.submit(SUGGEST_FORM, {"topic": "language", "text": "Talk about names"}, SAM)
    await bot.command("optout", SAM)
    assert "prompt_suggestions.suggested_by" in _places_naming(bot.core.db.path, SAM.identity)


async def test_opting_out_erases_the_words_kept_and_leaves_what_was_done_on_purpose(
    traced: Harness,
) -> None:
    h, db_path = traced, traced.core.db.path
    before = _places_naming(db_path, PRIYA.identity)
    await h.command("optout", PRIYA)
    left = _places_naming(db_path, PRIYA.identity)
    declared = _declared(h.core.registry)
    erased = {place for place in before if declared[place].on_opt_out}
    assert {"archive_authors.author_id", "inbox.identity"} <= erased, before
    assert not erased & left, f"opting out missed: {sorted(erased & left)}"
    # Schedules, posted prompts, suggestions and export links stay theirs.
    assert before - erased <= left, sorted((before - erased) - left)
    assert {"recurrences.owner", "prompt_posts.posted_by", "export_links.created_by"} <= left


async def test_a_feature_can_be_built_twice(bot: Harness) -> None:
    # Job kinds are declared in register(), not claimed in constructors.
    core = bot.core
    again = SchedulesFeature(
        core.scheduler,
        core.prompts,
        None,
        None,
        core.channels,
        core.chat,
        core.clock,  # type: ignore[arg-type]
    )
    again.register(Registry())


async def test_create_app_wires_every_declared_route_job_and_start_step(db_path: Path) -> None:
    app = create_app(Settings(db_path=db_path, playground=False))
    core = app[CORE]
    paths = {r.resource.canonical for r in app.router.routes() if r.resource is not None}
    for route in core.registry.routes:
        # aiohttp's canonical form drops a variable's pattern: {rest:.*} is {rest}.
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)  # type: ignore[attr-defined]
        assert path in paths
    for kind in core.registry.job_kinds:
        assert core.scheduler._kinds[kind.name] is kind  # type: ignore[attr-defined]
    assert core.registry.startup  # the retention reconciler, at least
    for database in app[DATABASES]:
        database.close()


@pytest.mark.parametrize("opting_out", [False, True], ids=["erase", "optout"])
async def test_erasing_a_person_leaves_none_of_their_words_in_the_file(
    traced: Harness, opting_out: bool
) -> None:
    # The inbox is erased after the archive, whose own erasure folds the write-ahead log:
    # its pending words must not linger in the file's old pages or in the log either.
    h, db_path = traced, traced.core.db.path
    await h.core.erasure.erase(PRIYA.identity, opting_out=opting_out)
    stored = db_path.read_bytes() + Path(f"{db_path}-wal").read_bytes()
    assert b"pending words" not in stored
