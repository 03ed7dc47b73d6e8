"""The neutral markup every adapter renders: **bold**, _italic_, `code`, [label](https://url).

A backslash makes the next markup character literal, so text people wrote can be shown
inside a bot message without becoming bold, a link or code by accident.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\*_`\[\]()])")
ESCAPED = re.compile(r"\\([\\*_`\[\]()])")  # a backslash and the character it makes literal


def escape(text: str) -> str:
    """Text people wrote, made literal for the markup."""
    return _SPECIAL.sub(r"\\\1", text)


# Control characters but tab and newline: nobody means them, and in an export a NUL or an
# escape can cut a CSV row short or drive a terminal.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def kept_text(text: str) -> str:
    """A message's text as the archive keeps it: without control characters."""
    return CONTROL.sub("", text)
