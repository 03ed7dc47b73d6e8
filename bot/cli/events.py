"""Regional events from the command line: add, edit, cancel and list them.

The command line posts nothing itself: it keeps the event and queues its jobs, and the
running copbot (which looks for new jobs every 20 seconds) announces and updates it."""

from __future__ import annotations

import json
from typing import Any

import click

from bot.cli.base import cli, db_option, with_core
from bot.clock import to_text
from bot.commands import CommandError
from bot.core import Core
from bot.event_messages import when, who_is_told
from bot.events import Attendance, LedgerState, Plan, PlanProblems
from bot.model import Role
from bot.services.events import EventsFeature
from bot.timefmt import for_people

_CLI = "cli"  # who planned or changed it, when it was done from the command line


def _feature(core: Core) -> EventsFeature:
    return core.feature(EventsFeature)


def _problems(e: PlanProblems) -> click.ClickException:
    return click.ClickException(" ".join(e.problems.values()))


@cli.group()
def events() -> None:
    """Regional events."""


@events.command("add")
@click.option("--title", required=True, help="What it's called (up to 150 characters).")
@click.option("--region", required=True, help="One of COPBOT_REGIONS, e.g. North.")
@click.option("--start", required=True, help='Local start, "YYYY-MM-DD HH:MM" (COPBOT_TIMEZONE).')
@click.option("--duration", default="90", show_default=True, help="Length in minutes.")
@click.option("--location", default="", help="A place, or an online link.")
@click.option("--capacity", default="", help="Number of places (none: no limit).")
@click.option("--description", default="", help="What it's about.")
@click.option("--topic", default="", help="A prompt topic to post from when it starts.")
@db_option
def events_add(
    title: str,
    region: str,
    start: str,
    duration: str,
    location: str,
    capacity: str,
    description: str,
    topic: str,
    db: str | None,
) -> None:
    """Plan an event; the running copbot announces it within a minute."""
    plan = Plan(title, region, start, duration, location, capacity, description, topic)

    async def call(core: Core) -> None:
        try:
            event = await _feature(core).create(plan, _CLI)
        except PlanProblems as e:
            raise _problems(e) from None
        click.echo(
            f"event {event.id} planned: {event.title}, {when(event, core.settings.timezone)}"
        )

    with_core(db, call)


@events.command("edit")
@click.argument("event_id", type=int, metavar="ID")
@click.option("--title", default=None)
@click.option("--region", default=None)
@click.option("--start", default=None, help='Local start, "YYYY-MM-DD HH:MM".')
@click.option("--duration", default=None, help="Length in minutes.")
@click.option("--location", default=None)
@click.option("--capacity", default=None, help='Number of places ("" for no limit).')
@click.option("--description", default=None)
@click.option("--topic", default=None)
@db_option
def events_edit(event_id: int, db: str | None, **changes: str | None) -> None:
    """Change an event; announcements are updated and people going, waiting or maybe are told
    what changed."""
    given = {k: v for k, v in changes.items() if v is not None}
    if not given:
        raise click.UsageError('say what to change, e.g. --start "2027-04-08 10:00"')

    async def call(core: Core) -> None:
        before = await _feature(core).repository.event(event_id)
        try:
            event = await _feature(core).edit(event_id, given, _CLI, Role.ADMIN)
        except PlanProblems as e:
            raise _problems(e) from None
        described = f"{event.title}, {when(event, core.settings.timezone)}"
        if before is not None and event.sequence == before.sequence:
            click.echo(f"event {event.id} unchanged: it is already {described}; nobody was told")
            return
        told = f" {who_is_told(before, event)}" if before is not None else ""
        click.echo(f"event {event.id} changed: {described}.{told}")

    with_core(db, call)


@events.command("cancel")
@click.argument("event_id", type=int, metavar="ID")
@db_option
def events_cancel(event_id: int, db: str | None) -> None:
    """Cancel an event; announcements say so and people going, waiting or maybe are told."""

    async def call(core: Core) -> None:
        event = await _feature(core).cancel_event(event_id, _CLI, Role.ADMIN)
        click.echo(f"event {event.id} cancelled: {event.title}")

    with_core(db, call)


@events.command("list")
@click.option("--region", default=None, help="Only this region's events.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@db_option
def events_list(region: str | None, fmt: str, db: str | None) -> None:
    """List events to come and those ended in the last 30 days, with answers and feedback."""

    async def call(core: Core) -> None:
        feature = _feature(core)
        repo = feature.repository
        slug = None
        if region is not None:
            slug = next(
                (r.lower() for r in core.settings.regions if r.lower() == region.lower()), None
            )
            if slug is None:
                raise CommandError(
                    f"I don't know the region '{region.strip()[:40]}'. "
                    f"Choose one of: {', '.join(core.settings.regions)}."
                )
        rows: list[dict[str, Any]] = []
        for event in await repo.upcoming_and_recent(slug):
            attendance = Attendance.of(await repo.rsvps(event.id), event.capacity)
            ledger = await repo.announcements(event.id)
            rows.append(
                {
                    "id": event.id,
                    "title": event.title,
                    "region": event.region,
                    "starts_at": to_text(event.starts_at),
                    "duration_minutes": int(event.duration.total_seconds() // 60),
                    "timezone": event.timezone,
                    "location": event.location,
                    "capacity": event.capacity,
                    "status": event.status.value,
                    "going": len(attendance.going),
                    "waiting": len(attendance.waiting),
                    "maybe": len(attendance.maybe),
                    "not_going": len(attendance.not_going),
                    "feedback_round": await repo.feedback_round(event.id),
                    "announced_in": sum(a.state is LedgerState.POSTED for a in ledger),
                    # Posts copbot can't tell went out (it stopped mid-post, where it can't
                    # look): for a person to check in the channel.
                    "in_doubt": [
                        f"{a.channel.platform} {a.channel.label}"
                        for a in ledger
                        if a.state is LedgerState.UNKNOWN
                    ],
                    "_starts": event.starts_at,
                }
            )
        if fmt == "json":
            for row in rows:
                del row["_starts"]
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        tz = core.settings.timezone
        if not rows:
            named = [r for r in core.settings.regions if r.lower() == slug]
            where = f" in {named[0]}" if named else ""
            click.echo(f"No events{where} to come, nor in the last 30 days.")
        for row in rows:
            round_ = f"\tfeedback round {row['feedback_round']}" if row["feedback_round"] else ""
            if row["in_doubt"]:
                round_ += f"\tannouncement not known to be in: {', '.join(row['in_doubt'])}"
            click.echo(
                f"{row['id']}\t{for_people(row['_starts'], tz)}\t{row['region']}\t{row['status']}"
                f"\tgoing {row['going']} waiting {row['waiting']} maybe {row['maybe']}"
                f"\t{row['title']}{round_}"
            )

    with_core(db, call)
