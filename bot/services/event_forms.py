"""The form a facilitator plans (or changes) an event in."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.events import (
    CAPACITY_DIGITS,
    DURATION_DIGITS,
    MAX_DESCRIPTION,
    MAX_LOCATION,
    MAX_TITLE,
)
from bot.model import Choice, DateTimeField, Form, LongText, ShortText
from bot.records import Event
from bot.services.regions import Regions
from prompts import Library

NEW_FORM = "event-new"
EDIT_FORM = "event-edit"
# Slack's select and Teams' choices can't be emptied once something is picked, so "no
# prompt" is an option of its own. Not a slug (prompts/library.py): no topic can take it.
NO_TOPIC = "_none"


def topic_of(value: str) -> str:
    """The topic a form's answer names: empty for "no prompt"."""
    return "" if value == NO_TOPIC else value


def event_form(
    library: Library, regions: Regions, tz: ZoneInfo, now: datetime, event: Event | None
) -> Form:
    """The planning form, empty; or, for ``event``, filled in to change it."""
    if event is None:
        week = (now.astimezone(tz) + timedelta(days=7)).date()
        start = f"{datetime.combine(week, time(10)):%Y-%m-%dT%H:%M}"
    else:
        start = f"{event.starts_at.astimezone(tz):%Y-%m-%dT%H:%M}"

    def was(value: str) -> str:
        return value if event is not None else ""

    return Form(
        NEW_FORM if event is None else EDIT_FORM,
        "Plan an event" if event is None else "Change an event",
        (
            ShortText(
                "title", "Title", max_length=MAX_TITLE, initial=was(event.title if event else "")
            ),
            Choice(
                "region",
                "Region",
                tuple((r, r) for r in regions.names),
                initial=regions.label(event.region) if event else "",
            ),
            DateTimeField("start", "Date and start time", initial=start, zone=tz.key),
            ShortText(
                "duration",
                "Length in minutes",
                initial=str(int(event.duration.total_seconds() // 60)) if event else "90",
                max_length=DURATION_DIGITS,
            ),
            ShortText(
                "location",
                "Place or online link",
                required=False,
                placeholder="e.g. Leeds, Room 2, or a Teams meeting link",
                initial=was(event.location if event else ""),
                max_length=MAX_LOCATION,
            ),
            ShortText(
                "capacity",
                "Places (leave empty for no limit)",
                required=False,
                initial=str(event.capacity) if event and event.capacity else "",
                max_length=CAPACITY_DIGITS,
            ),
            LongText(
                "description",
                "What it's about",
                required=False,
                initial=was(event.description if event else ""),
                max_length=MAX_DESCRIPTION,
            ),
            Choice(
                "topic",
                "Post a reflection prompt from this topic when it starts (optional)",
                ((NO_TOPIC, "No prompt"), *((t.slug, t.title) for t in library.topics)),
                required=False,
                initial=was((event.topic or NO_TOPIC) if event else ""),
            ),
        ),
        submit_label="Announce" if event is None else "Save changes",
        intro="copbot will announce it in every channel linked to the region, take "
        "answers, send reminders, and ask for anonymous feedback afterwards."
        if event is None
        else "The announcements will be updated. People going, waiting or maybe are told of "
        "a new title, time, place or description; a new number of places is told to those "
        "it gives a place or moves to the waiting list.",
        context="" if event is None else str(event.id),
    )
