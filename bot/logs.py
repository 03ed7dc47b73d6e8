"""Logging without people's words: an exception's message may quote what someone wrote."""

from __future__ import annotations

import traceback


def stack_only(error: BaseException) -> str:
    """Where an error happened (its type and stack), without its message."""
    stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"{type(error).__name__} at\n{stack}"
