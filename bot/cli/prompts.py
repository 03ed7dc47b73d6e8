"""The prompt library and prompt schedules, from the command line."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.base import cli, db_option, identity_arg, load_settings, with_core
from bot.commands import CommandError
from bot.records import Prompt
from bot.services.schedules import SchedulesFeature
from prompts import LIBRARY_DIR, Library, LibraryError, check_prompt, load_library, load_topic
from storage.prompts import SqlitePromptRepository

if TYPE_CHECKING:
    from bot.core import Core


@cli.group()
def prompts() -> None:
    """The reflection prompt library."""


@prompts.command("list")
@click.option("--topic", help="Only this topic's prompts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@db_option
def prompts_list(topic: str | None, fmt: str, db: str | None) -> None:
    """List the prompts: the shipped library and those facilitators added."""

    async def call(core: Core) -> Library:
        return await core.prompts.current()

    library = with_core(db, call)
    if topic and library.topic(topic) is None:
        slugs = ", ".join(t.slug for t in library.topics)
        raise click.BadParameter(f"no topic '{topic}'; topics are: {slugs}", param_hint="--topic")
    chosen = [p for p in library.prompts if not topic or p.topic == topic]
    if fmt == "json":
        click.echo(json.dumps([_prompt_json(p) for p in chosen], indent=2, ensure_ascii=False))
        return
    width = max((len(p.id) for p in chosen), default=2)
    for p in chosen:
        by = f" by {p.added_by}" if p.added_by else ""  # blank once they were erased
        added = f"  (added{by})" if p.added else ""
        click.echo(f"{p.id:<{width}}  {p.title}{added}")


def _prompt_json(p: Prompt) -> dict[str, Any]:
    return {
        "id": p.id,
        "topic": p.topic,
        "title": p.title,
        "text": p.text,
        "follow_ups": list(p.follow_ups),
        "facilitator_note": p.facilitator_note,
        "content_note": p.content_note,
        "resources": [{"title": r.title, "url": r.url} for r in p.resources],
        # Added rather than the library's own: still true once its author was erased,
        # when added_by is blank as for a library prompt.
        "added": p.added,
        "added_by": p.added_by,
    }


@prompts.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@db_option
def prompts_validate(path: Path | None, db: str | None) -> None:
    """Check a prompt library folder (default: the shipped library), one topic file, or a
    file of prompts to add (as `copbot prompts add` takes it), listing every problem."""
    target = path or LIBRARY_DIR
    try:
        if target.is_file() and "slug" not in _read_added(target):
            # A file of prompts to add: the very checks `prompts add` makes.
            data = _read_added(target)
            found = _check_added(target, data, _current_library(db), "cli")
            click.echo(
                f"OK: {target} adds {len(found)} prompt(s) to {data['topic']}; "
                f"`copbot prompts add {target}` adds them."
            )
        elif target.is_file():
            topic = load_topic(target)
            click.echo(f"OK: {target} is a valid topic with {len(topic.prompts)} prompts.")
        else:
            library = load_library(target)
            click.echo(
                f"OK: {len(library.topics)} topics, {len(library.prompts)} prompts in {target}."
            )
    except LibraryError as e:
        click.echo(str(e), err=True)
        sys.exit(1)


def _read_added(file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise LibraryError([f"{file}: not valid TOML: {e}"]) from None
    except OSError as e:
        raise LibraryError([f"{file}: cannot be read: {e}"]) from None


def _current_library(db: str | None) -> Library:
    """What `prompts add` checks against: the library with the prompts added so far (from
    the database when there is one; validating never creates it)."""
    settings = load_settings(db)
    if not settings.db_path.exists():
        return load_library(settings.prompt_library or LIBRARY_DIR)

    async def call(core: Core) -> Library:
        return await core.prompts.current()

    return with_core(db, call)


@prompts.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "by", default="cli", help="Who added them (an identity), for the record.")
@db_option
def prompts_add(file: Path, by: str, db: str | None) -> None:
    """Add prompts of your own from a TOML FILE: `topic = "SLUG"` and [[prompts]] written as
    in the library. They join the rotation like the library's own."""
    try:
        data = _read_added(file)
    except LibraryError as e:
        raise click.ClickException(str(e)) from None

    async def call(core: Core) -> list[str]:
        library = await core.prompts.current()
        try:
            found = _check_added(file, data, library, by)
        except LibraryError as e:  # the file's problems, not the library's
            raise CommandError(f"Nothing was added: {file.name} has problems.\n{e}") from None
        repo = SqlitePromptRepository(core.db)
        for prompt in found:
            await repo.add(prompt, core.clock.now())
        return [p.id for p in found]

    added = with_core(db, call)
    click.echo(f"Added {len(added)} prompt(s): {', '.join(added)}")


def _check_added(file: Path, data: dict[str, Any], library: Library, by: str) -> list[Prompt]:
    """Every problem with a file of prompts to add, not only the first."""
    problems = [f"{file}: {p}" for p in _unknown_keys(data)]
    topic = data.get("topic")
    if not isinstance(topic, str) or library.topic(topic) is None:
        slugs = ", ".join(t.slug for t in library.topics)
        problems.append(f"{file}: topic: name one of the topics: {slugs}")
    topic = topic if isinstance(topic, str) else ""
    found: list[Prompt] = []
    raw_prompts = data.get("prompts")
    seen: set[str] = set()
    for index, raw in enumerate(raw_prompts if isinstance(raw_prompts, list) else [], start=1):
        if not isinstance(raw, dict):
            problems.append(f"{file}: prompt {index}: must be a [[prompts]] table")
            continue
        prompt, wrong = check_prompt(raw, topic, added_by=by)
        if not library.topic(topic):  # said once above; no "start the id with" per prompt
            wrong = [w for w in wrong if not w.startswith("id: start it with the topic")]
        label = f"prompt '{raw['id']}'" if isinstance(raw.get("id"), str) else f"prompt {index}"
        problems.extend(f"{file}: {label}: {w}" for w in wrong)
        if prompt is not None and library.prompt(prompt.id) is not None:
            problems.append(f"{file}: {label}: id: already in the library")
        elif prompt is not None and prompt.id in seen:
            problems.append(f"{file}: {label}: id: used twice in this file")
        elif prompt is not None:
            found.append(prompt)
            seen.add(prompt.id)
    if not isinstance(raw_prompts, list) or not raw_prompts:
        problems.append(f"{file}: prompts: the file has no [[prompts]]")
    if problems:
        raise LibraryError(problems)
    return found


def _unknown_keys(data: dict[str, Any]) -> list[str]:
    known = ("topic", "prompts")
    return [
        f"{key}: not a field of a file of prompts to add (those are topic and [[prompts]])"
        for key in data
        if key not in known
    ]


@prompts.command("remove")
@click.argument("prompt_id")
@db_option
def prompts_remove(prompt_id: str, db: str | None) -> None:
    """Remove a prompt that was added (the shipped library's prompts stay)."""

    async def call(core: Core) -> bool:
        return await SqlitePromptRepository(core.db).remove(prompt_id)

    if not with_core(db, call):
        raise click.ClickException(
            f"no added prompt '{prompt_id}' (the shipped library's prompts can't be removed)"
        )
    click.echo(f"Removed {prompt_id}.")


@cli.group()
def schedule() -> None:
    """Prompts on a schedule (the same as /cop schedule in chat)."""


@schedule.command("prompt")
@click.argument("words", nargs=-1, required=True)
@click.option("--platform", help="The channel's platform (slack, teams, local), if several.")
@click.option(
    "--owner",
    default="",
    help="Identity to send each post's facilitator note to, and to tell when a post is "
    "missed or fails.",
)
@db_option
def schedule_prompt(
    words: tuple[str, ...], platform: str | None, owner: str, db: str | None
) -> None:
    """Schedule prompts: TOPIC|any every DAYS at HH:MM in CHANNEL, for example
    `copbot schedule prompt any every tuesday at 10:00 in '#north'`."""
    who = identity_arg(owner) if owner else ""

    async def call(core: Core) -> str:
        chosen = platform or await _only_platform(core)
        return await core.feature(SchedulesFeature).schedule(
            words, chosen, None, who, prefix="copbot"
        )

    click.echo(with_core(db, call))


async def _only_platform(core: Core) -> str:
    platforms = sorted({c.ref.platform for c in await core.channels.list()})
    if len(platforms) == 1:
        return platforms[0]
    if not platforms:
        raise CommandError("copbot hasn't joined any channel yet; start it and add it to one")
    raise CommandError(f"say which platform with --platform ({', '.join(platforms)})")


@schedule.command("list")
@db_option
def schedule_list(db: str | None) -> None:
    """List scheduled prompts."""

    async def call(core: Core) -> list[str]:
        return await core.feature(SchedulesFeature).listing()

    lines = with_core(db, call)
    click.echo("\n".join(lines) if lines else "No prompts are scheduled.")


@schedule.command("cancel")
@click.argument("schedule_id")
@db_option
def schedule_cancel(schedule_id: str, db: str | None) -> None:
    """Stop a scheduled prompt."""

    async def call(core: Core) -> str:
        return await core.feature(SchedulesFeature).cancel(schedule_id, prefix="copbot")

    click.echo(with_core(db, call))


@schedule.command("pause")
@click.argument("schedule_id")
@db_option
def schedule_pause(schedule_id: str, db: str | None) -> None:
    """Pause a scheduled prompt: nothing is posted until it is resumed."""

    async def call(core: Core) -> str:
        return await core.feature(SchedulesFeature).pause(schedule_id, prefix="copbot")

    click.echo(with_core(db, call))


@schedule.command("resume")
@click.argument("schedule_id")
@db_option
def schedule_resume(schedule_id: str, db: str | None) -> None:
    """Start a paused scheduled prompt again, from the next time due."""

    async def call(core: Core) -> str:
        return await core.feature(SchedulesFeature).resume(schedule_id, prefix="copbot")

    click.echo(with_core(db, call))
