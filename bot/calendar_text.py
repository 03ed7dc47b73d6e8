"""iCalendar TEXT as people wrote it. Imported with ``icalendar``, on the first calendar
asked for (bot/calendar_feed.py)."""

from __future__ import annotations

import icalendar


class LiteralText(icalendar.vText):
    """Text escaped by RFC 5545 alone. The library first reads a backslash before "N" as a
    line break, so a shared drive such as \\\\NHSFS01\\IPS would reach calendars broken
    over two lines."""

    def to_ical(self) -> bytes:
        escaped = (
            self.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
        )
        return escaped.encode("utf-8")
