"""Who an event's feedback round is for: the people going when it ended, who were sent its
button. Checked when the button is pressed, before the form opens (like "already
answered"); the answer itself carries nothing of it."""

from __future__ import annotations

from bot.events import Attendance, EventRepository


class EventInvitations:
    def __init__(self, events: EventRepository) -> None:
        self._events = events

    async def invited(self, round_id: int, identity: str) -> bool | None:
        event_id = await self._events.event_of_round(round_id)
        if event_id is None:
            return None  # not an event's round
        event = await self._events.event(event_id)
        if event is None:
            return False
        # The same list the end-of-event job sent the button to.
        attendance = Attendance.of(await self._events.rsvps(event_id), event.capacity)
        return identity in attendance.going
