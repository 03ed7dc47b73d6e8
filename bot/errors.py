"""The one root for problems worded for people.

Any error under ``WordedError`` carries a sentence that the person who acted can read and
act on; the router shows it as it is, for a command, a button or a form alike. Anything
else is a fault of copbot's: logged without its message, answered with an apology.
"""

from __future__ import annotations

from collections.abc import Callable

# Why storage refused a write, in a few words ("the disk holding it is full"), or None for
# any other fault: storage's own reading, handed in by bot/app.py to what answers people.
WhyRefused = Callable[[BaseException], str | None]


def unwritable(reason: str) -> str:
    """What someone is told when copbot's database refused what they sent, wherever they
    sent it (the console, the playground)."""
    return (
        f"copbot couldn't save that, because its database can't be written just now "
        f"({reason}), so nothing was changed. Please try again in a minute; if it keeps "
        "happening, let your copbot admin know."
    )


def never_refused(error: BaseException) -> str | None:
    """A ``WhyRefused`` that knows no storage: every fault is copbot's own."""
    return None


class WordedError(Exception):
    """Its message is written for the person who will read it."""

    @property
    def words(self) -> str:
        return str(self)
