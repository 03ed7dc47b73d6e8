"""What people read about an event: its announcement, reminders and notices. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.calendar_feed import event_address
from bot.events import Answer, Attendance
from bot.localtime import repeated
from bot.markup import escape
from bot.model import Button, Buttons, ButtonStyle, Context, Fields, OutgoingMessage, Text
from bot.records import Event
from bot.timefmt import for_people

RSVP = "event.rsvp"  # button value: "EVENT_ID:answer"
NAMED = 60  # characters of a title that name a link to it


def your_answer(attendance: Attendance, person: str) -> str:
    """What ``person`` answered, as they would say it; "" if they haven't."""
    if person in attendance.going:
        return "You're going."
    if person in attendance.waiting:
        return f"You're on the waiting list (number {attendance.waiting.index(person) + 1})."
    if person in attendance.maybe:
        return "You said maybe."
    if person in attendance.not_going:
        return "You said you can't go."
    return ""


def when(event: Event, tz: ZoneInfo) -> str:
    """ "Thu 8 Apr 2027, 10:00 to 11:30", in the community's zone."""
    end = event.ends_at.astimezone(tz)
    start = event.starts_at.astimezone(tz)
    until = f"{end:%H:%M}" if end.date() == start.date() else for_people(end, tz)
    return f"{for_people(event.starts_at, tz)}{_which(start)} to {until}{_which(end)}"


def _which(local: datetime) -> str:
    """ " BST" after a time the clocks go through twice (01:30 in late October), else ""."""
    assert isinstance(local.tzinfo, ZoneInfo)
    return f" {local.tzname()}" if repeated(local.replace(tzinfo=None), local.tzinfo) else ""


def calendar_link(event: Event, public_url: str) -> str:
    """The event's .ics, or "" when copbot has no public address to put in a link."""
    return event_address(public_url, event.id)


def calendar_label(event: Event, doing: str = "Add", where: str = "to") -> str:
    """The words of a link to the event's calendar file, naming its event: a screen reader
    lists links by name, and a channel of announcements would otherwise read "Add to
    calendar" again and again. Brackets become parentheses: Teams would end the link at one."""
    title = event.title.replace("[", "(").replace("]", ")")
    if len(title) > NAMED:
        cut = title[: NAMED - 1]
        title = (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"
    return f"{doing} '{escape(title)}' {where} your calendar"


def in_your_calendar(event: Event, public_url: str) -> str:
    """For someone who added the event to their calendar: its file again, which updates
    that copy or, once cancelled, removes it. "" without a public address."""
    link = calendar_link(event, public_url)
    if not link:
        return ""
    label = (
        calendar_label(event, "Remove", "from")
        if event.cancelled
        else (calendar_label(event, "Update", "in"))
    )
    return f"If you added it to your calendar: [{label}]({link})."


def rsvp_buttons(event: Event) -> Buttons:
    return Buttons(
        tuple(
            Button(
                RSVP,
                answer.label,
                f"{event.id}:{answer.value}",
                ButtonStyle.PRIMARY if answer is Answer.GOING else ButtonStyle.DEFAULT,
            )
            for answer in Answer
        )
    )


def counts(event: Event, attendance: Attendance) -> str:
    going = f"Going {len(attendance.going)}"
    if event.capacity is not None:
        going += f" of {event.capacity} places"
    parts = [going]
    if attendance.waiting:
        parts.append(f"waiting list {len(attendance.waiting)}")
    parts += [f"Maybe {len(attendance.maybe)}", f"Can't go {len(attendance.not_going)}"]
    return " · ".join(parts)


def announcement(
    event: Event, attendance: Attendance, region: str, tz: ZoneInfo, public_url: str
) -> OutgoingMessage:
    pairs = [("When", when(event, tz)), ("Region", region)]
    if event.location:
        pairs.append(("Where", escape(event.location)))
    if event.cancelled:
        cancelled: list[Text | Fields | Context] = [
            Text(f"**Cancelled: {escape(event.title)}**"),
            Text("This session won't go ahead. Sorry to anyone who was planning to come."),
            Fields(tuple(pairs)),
        ]
        if removing := in_your_calendar(event, public_url):
            cancelled.append(Context(removing))
        return OutgoingMessage(tuple(cancelled), fallback=f"Cancelled: {event.title}")
    blocks: list[Text | Fields | Buttons | Context] = [Text(f"**{escape(event.title)}**")]
    if event.description:
        blocks.append(Text(escape(event.description)))
    blocks.append(Fields(tuple(pairs)))
    blocks.append(Text(counts(event, attendance)))
    blocks.append(rsvp_buttons(event))
    small = "Let us know if you can come; you can change your answer at any time."
    if link := calendar_link(event, public_url):
        small += f" [{calendar_label(event)}]({link})"
    blocks.append(Context(small))
    return OutgoingMessage(tuple(blocks), fallback=f"{event.title}, {when(event, tz)}")


def reminder(event: Event, tz: ZoneInfo, now: datetime) -> OutgoingMessage:
    left = event.starts_at - now
    # Days on the calendar: a day before across a clock change may be 23 or 25 hours.
    days = (event.starts_at.astimezone(tz).date() - now.astimezone(tz).date()).days
    if left >= timedelta(hours=23) and days >= 1:
        soon = "tomorrow" if days == 1 else f"in {days} days"
    else:
        soon = _in(round(left.total_seconds() / 60))
    where = f" {escape(event.location)}." if event.location else ""
    # A place given up in time goes to the next person waiting: say how.
    so = "someone waiting can have your place" if event.capacity else "the organiser knows"
    return OutgoingMessage.of(
        f"A reminder: **{escape(event.title)}** starts {soon}, {when(event, tz)}.{where}",
        f"If you can't come after all, press **{Answer.NOT_GOING.label}** on its announcement, "
        f"so {so}.",
    )


def _in(minutes: int) -> str:
    """How soon, as people say it: minutes up to two hours (a 90-minute reminder is not
    "in 2 hours"), then whole hours."""
    if minutes <= 1:
        return "in a minute"
    if minutes == 60:
        return "in an hour"
    if minutes < 120:
        return f"in {minutes} minutes"
    return f"in {round(minutes / 60)} hours"


# What people going, waiting or maybe are messaged about: what it's called, when and where
# it is, and what it's about. A new number of places alone is told only to those it gives a
# place or moves to the waiting list; a new region or prompt topic, to nobody.
TOLD = frozenset({"title", "when", "where", "description"})


def differences(was: Event, now: Event) -> frozenset[str]:
    """What changed between two versions of an event that people might care about."""
    found = {
        "title": was.title != now.title,
        "when": (was.starts_at, was.duration) != (now.starts_at, now.duration),
        "where": was.location != now.location,
        "places": was.capacity != now.capacity,
        "description": was.description != now.description,
    }
    return frozenset(name for name, differs in found.items() if differs)


def who_is_told(was: Event, now: Event) -> str:
    """For whoever changed the event: who hears of the change."""
    if differences(was, now) & TOLD:
        return "People going, waiting or maybe are told what has changed."
    if was.capacity != now.capacity:
        return (
            "Only people the new number of places gives a place to, or moves to the waiting "
            "list, are messaged."
        )
    return "Nobody is messaged: nothing people going, waiting or maybe need to know has changed."


def changed(
    event: Event, tz: ZoneInfo, public_url: str, was: Event | None = None
) -> OutgoingMessage:
    """The message to people going, waiting or maybe: what has changed since ``was`` (None:
    a change queued before copbot said what changed, told as the time and place now)."""
    calendar = in_your_calendar(event, public_url)
    if event.cancelled:
        text = (
            f"**{escape(event.title)}** ({for_people(event.starts_at, tz)}) has been cancelled. "
            "Sorry to anyone who was looking forward to it."
        )
    elif was is None:
        where = f" {escape(event.location)}." if event.location else ""
        text = f"**{escape(event.title)}** has changed: it is now {when(event, tz)}.{where}"
    else:
        lines = _what_changed(was, event, tz)
        text = f"**{escape(event.title)}** has changed:\n" + "\n".join(
            f"• {line}" for line in lines
        )
    return OutgoingMessage.of(f"{text}\n{calendar}" if calendar else text)


def _what_changed(was: Event, now: Event, tz: ZoneInfo) -> list[str]:
    found = differences(was, now)
    lines = []
    if "title" in found:
        lines.append(f"It's now called **{escape(now.title)}** (it was {escape(was.title)}).")
    if "when" in found:
        lines.append(f"When: {when(now, tz)} (it was {when(was, tz)}).")
    if "where" in found:
        lines.append(f"Where: {_or(now.location, 'no place is given now')}{_was(was.location)}")
    if "places" in found:
        places = "no limit now" if now.capacity is None else f"{now.capacity:,}"
        before = "no limit" if was.capacity is None else f"{was.capacity:,}"
        lines.append(f"Places: {places} (it was {before}).")
    if "description" in found:
        lines.append(f"What it's about: {_or(now.description, 'no description now.')}")
    return lines


def _or(words: str, instead: str) -> str:
    return escape(words) if words else instead


def _was(words: str) -> str:
    return f" (it was {escape(words)})." if words else " (no place was given before)."
