"""The archive from the command line: search, export, erase."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime, time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

import click

from bot.archive_export import FORMATS, Cover
from bot.cli.base import cli, db_option, existing, identity_arg, load_settings, with_core
from bot.command_words import CommandWords
from bot.commands import did_you_mean
from bot.records import ARCHIVED_YEARS, ArchiveFilter, SearchHit
from bot.search_query import SearchTooLong, parse_terms
from bot.services.archive import ARCHIVED
from bot.services.erasure import Erased
from bot.services.exports import community_of, cover_for, run_export
from bot.timefmt import for_people
from storage.archive_reader import SqliteArchiveReader

if TYPE_CHECKING:
    from bot.core import Core


def _date(value: str | None, name: str, tz: ZoneInfo, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"'{value}' isn't a date; write it as YYYY-MM-DD", param_hint=name
        ) from None
    if day.year not in ARCHIVED_YEARS:
        return None  # narrows nothing, and a time zone could move it past year 1 or 9999
    # A day is a day where copbot's people are (COPBOT_TIMEZONE), as exports show it.
    if day.tzinfo is None:
        day = day.replace(tzinfo=tz)
    # --until 2026-03-31 means up to the end of that day
    if end and len(value) == 10:
        day = datetime.combine(day.date(), time.max, day.tzinfo)
    return day.astimezone(UTC)


def filter_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--channel", default="", help="A channel id, or its name like '#north'."),
            click.option("--topic", default="", help="A prompt topic, like language."),
            click.option(
                "--region",
                default="",
                help="One of COPBOT_REGIONS (by default North, Midlands, London, South, National).",
            ),
            click.option("--author", default="", help="An identity, like slack:U123."),
            click.option(
                "--since", default=None, metavar="DATE", help="From this day (YYYY-MM-DD)."
            ),
            click.option(
                "--until", default=None, metavar="DATE", help="Up to this day, inclusive."
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _filter(
    tz: ZoneInfo,
    regions: Sequence[str],
    channel: str,
    topic: str,
    region: str,
    author: str,
    since: str | None,
    until: str | None,
) -> ArchiveFilter:
    region = region.strip().lower()
    slugs = [r.lower() for r in regions]  # COPBOT_REGIONS
    if region and region not in slugs:
        names = ", ".join(regions)  # as chat and the console name them
        raise click.BadParameter(
            f"there's no region '{region[:40]}'.{did_you_mean(region, slugs, '{}')} "
            f"The regions are: {names}.",
            param_hint="--region",
        )
    chosen = ArchiveFilter(
        channel,
        topic,
        region,
        identity_arg(author) if author else "",
        _date(since, "--since", tz),
        _date(until, "--until", tz, end=True),
    )
    if chosen.since and chosen.until and chosen.since > chosen.until:
        raise click.BadParameter("--since is after --until, so nothing could match")
    return chosen


async def _known_filter(core: Core, chosen: ArchiveFilter) -> None:
    """A typo in a filter would match nothing and look like an empty archive: say so."""
    if chosen.channel and not SqliteArchiveReader(core.db.path).holds_any(
        ArchiveFilter(channel=chosen.channel)
    ):
        raise click.BadParameter(
            f"nothing in the archive is from the channel '{chosen.channel[:40]}'; give its"
            " name as the platform shows it (like '#north') or its id",
            param_hint="--channel",
        )
    if chosen.topic:
        slugs = [t.slug for t in (await core.prompts.current()).topics]
        if chosen.topic not in slugs:
            raise click.BadParameter(
                f"there's no topic '{chosen.topic[:40]}'."
                f"{did_you_mean(chosen.topic, slugs, '{}')} The topics are: {', '.join(slugs)}.",
                param_hint="--topic",
            )


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 200))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@filter_options
@db_option
def search(query: tuple[str, ...], limit: int, fmt: str, db: str | None, **filters: Any) -> None:
    """Search the archive. Any text works: "quoted phrases" and prefix* are understood,
    everything else is matched as plain words."""
    try:
        terms = parse_terms(" ".join(query))
    except SearchTooLong as e:
        raise click.BadParameter(e.words, param_hint="QUERY") from None
    if not terms:
        raise click.BadParameter("give at least one word to look for", param_hint="QUERY")
    settings = load_settings(db)
    tz = settings.timezone
    chosen = _filter(tz, settings.regions, **filters)

    async def call(core: Core) -> list[SearchHit]:
        await _known_filter(core, chosen)
        return await core.archive.search(terms, chosen, limit)

    hits = with_core(db, call)
    if fmt == "json":
        click.echo(json.dumps([_hit_json(h) for h in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo("No matches.")
        return
    for hit in hits:
        m = hit.message
        snippet = hit.snippet.replace("\x02", "[").replace("\x03", "]").replace("\n", " ")
        who = "Anonymous" if m.anonymous else m.author_name
        when = for_people(m.created_at, tz, time=False)
        click.echo(f"{when}  #{m.channel_name or m.channel_id}  {who}: {snippet}")


def _hit_json(hit: SearchHit) -> dict[str, Any]:
    m = hit.message
    return {
        "platform": m.platform,
        "channel_id": m.channel_id,
        "channel_name": m.channel_name,
        "thread_id": m.thread_id,
        "message_id": m.message_id,
        "author_name": "Anonymous" if m.anonymous else m.author_name,
        "created_at": m.created_at.isoformat(),
        "topic": m.topic,
        "region": m.region,
        "snippet": hit.snippet.replace("\x02", "**").replace("\x03", "**"),
        "text": m.text,
    }


@cli.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write here instead of to standard output.",
)
@click.option(
    "--pseudonymise", is_flag=True, help='Authors become "Participant 1, 2, …", in the text too.'
)
@filter_options
@db_option
def export(
    fmt: str, output: Path | None, pseudonymise: bool, db: str | None, **filters: Any
) -> None:
    """Export the archive (admins): JSON Lines, JSON, CSV, Markdown or HTML. Deleted and
    erased messages are never in it. Streams, so any size of archive fits in memory."""
    settings = existing(load_settings(db))
    chosen = _filter(settings.timezone, settings.regions, **filters)

    async def call(core: Core) -> Cover:
        await _known_filter(core, chosen)
        await core.audit.record("cli", "archive exported", f"{fmt}, on the command line")
        library = await core.prompts.current()
        places = [(c.ref.platform, c.ref.workspace) for c in await core.channels.list()]
        return cover_for(
            library,
            chosen,
            community=community_of(places),
            exported_by=_who_runs_this(),
            at=core.clock.now(),
            tz=settings.timezone,
            pseudonymised=pseudonymise,
        )

    cover = with_core(db, call)
    reader = SqliteArchiveReader(settings.db_path)
    try:
        out: TextIO = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as e:
        raise click.ClickException(f"can't write {output}: {e.strerror}") from None
    try:
        if sys.stderr.isatty():
            total = reader.count(chosen)
            with click.progressbar(length=total, label="Exporting", file=sys.stderr) as bar:
                written = run_export(
                    reader,
                    fmt,
                    chosen,
                    out,
                    cover,
                    pseudonymise=pseudonymise,
                    progress=bar.update,
                )
        else:
            written = run_export(reader, fmt, chosen, out, cover, pseudonymise=pseudonymise)
        if output:
            out.close()
    except BaseException as e:
        if not output:
            raise
        # A half-written export would pass for the whole archive: keep none of it, however
        # it stopped (a full disk, Ctrl-C, a fault).
        with suppress(OSError):
            out.close()
        if output.is_file():
            output.unlink()
        if not isinstance(e, OSError):
            raise
        raise click.ClickException(
            f"can't write {output}: {e.strerror}; nothing was kept"
        ) from None
    finally:
        if output:
            with suppress(OSError):
                out.close()
    if output:
        click.echo(f"Exported {written} message(s) to {output}.", err=True)


def _who_runs_this() -> str:
    try:
        return f"{getpass.getuser()}, on the command line"
    except (OSError, KeyError):  # no login name (some containers)
        return "the command line"


@cli.command()
@click.option("--user", "user", required=True, help="The person's identity, like slack:U123.")
@db_option
def erase(user: str, db: str | None) -> None:
    """Erase everything the archive kept of one person (admins), and keep nothing of theirs
    from now on. The text leaves the file, its search index and its journal."""
    identity = identity_arg(user)

    async def call(core: Core) -> tuple[Erased, tuple[tuple[str, str], ...], CommandWords]:
        erased = await core.erasure.erase(identity)
        await core.audit.record("cli", "erased", f"{identity}: {erased.total} record(s)")
        return erased, core.erasure.kept(), CommandWords(core.settings.teams_name)

    # Never on a new database: a wrong --db would make an empty one and find nothing to erase.
    erased, kept, words = with_core(db, call)
    if not erased.total:
        click.echo(
            f"Found nothing of {identity} to erase (check the identity, e.g. slack:U123). "
            "Nothing they write will be kept from now "
            f"on (they can choose otherwise with {words.everywhere('optin')})."
        )
        return
    click.echo(
        f"Erased {erased.of(ARCHIVED)} message(s) by {identity} from the archive"
        + erased.others(but=ARCHIVED)
        + ". Nothing they write will be kept from now on (they can choose otherwise with "
        + words.everywhere("optin")
        + ")."
    )
    if kept:
        click.echo("Kept: " + "; ".join(f"{what}, because {why}" for what, why in kept) + ".")


@cli.group("import")
def import_() -> None:
    """Bring history into the archive."""


@import_.command("slack-export")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@db_option
def import_slack_export(path: Path, db: str | None) -> None:
    """Load a Slack export (the zip, or its unpacked folder, in Slack's standard layout) into
    the archive, threads intact. Running it twice adds nothing new."""
    from bot.app import slack_history
    from bot.archive_ports import HistoryUnreadable
    from bot.services.channels import region_from_name
    from bot.services.history import HistoryImport

    source = slack_history(path)
    try:
        days = source.day_files()  # before the database: what isn't an export creates none
    except HistoryUnreadable as e:
        raise click.ClickException(str(e)) from None

    async def call(core: Core) -> Any:
        importer = HistoryImport(core.archive)
        # A partial, not a closure: the export is read in another process, which unpickles it.
        region_of = partial(region_from_name, regions=core.settings.regions)

        try:
            if sys.stderr.isatty():
                with click.progressbar(length=days, label="Importing", file=sys.stderr) as bar:
                    return await importer.run(source, bar.update, region_of)
            return await importer.run(source, region_of=region_of)
        except HistoryUnreadable as e:
            raise click.ClickException(str(e)) from None

    result = with_core(db, call, create=True)
    left_out = [
        f"{n} skipped ({why})"
        for n, why in (
            (result.opted_out, "their authors opted out"),
            (result.before_opt_in, "written before their authors opted back in"),
        )
        if n
    ]
    click.echo(
        f"Read {result.read} message(s): {result.added} added to the archive, "
        + ", ".join([f"{result.read - result.added - result.skipped} already there", *left_out])
        + "."
    )
