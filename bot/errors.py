"""The one root for problems worded for people.

Any error under ``WordedError`` carries a sentence that the person who acted can read and
act on; the router shows it as it is, for a command, a button or a form alike. Anything
else is a fault of copbot's: logged without its message, answered with an apology.
"""

from __future__ import annotations


class WordedError(Exception):
    """Its message is written for the person who will read it."""

    @property
    def words(self) -> str:
        return str(self)
