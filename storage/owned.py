"""Work run on a thread that owns an SQLite connection: nothing tied to the connection (a
cursor, a frame holding one) may leave that thread, and each unit of work passes a gate
first (the seam fault tests use)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

import sqlite_utils

from storage import sqlite as sqlite3

T = TypeVar("T")


class CursorEscaped(TypeError):
    """A unit of work returned a cursor (or a lazy iterator over one). Freeing it on
    another thread resets a statement its connection's cache shares with the next call
    on the worker thread ("Error binding parameter 0"), so results must be plain values."""


class Gate(Protocol):
    """Runs on the worker thread at the start of each unit of work (inside the write's
    transaction), before ``op`` does. The seam for fault tests: raise the
    ``sqlite3.OperationalError`` a locked or full database would, without patching."""

    def __call__(self, op: Callable[..., object], *, write: bool) -> None: ...


def open_gate(op: Callable[..., object], *, write: bool) -> None:
    return None


def forget_frames(error: BaseException) -> None:
    """An exception carries the op's frames to the event loop, and with them any cursor
    still in a local: free those here, on the thread that owns the connection."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def run_owned(
    db: sqlite_utils.Database, fn: Callable[[sqlite_utils.Database], T], gate: Gate, write: bool
) -> T:
    """Run ``fn`` so that nothing tied to this thread's connection leaves the thread."""
    try:
        gate(fn, write=write)
        result = fn(db)
    except BaseException as e:
        forget_frames(e)
        raise
    return plain(fn, result)


def plain(fn: Callable[..., object], result: T) -> T:
    if isinstance(result, sqlite3.Cursor | Iterator):
        if isinstance(result, sqlite3.Cursor):
            result.close()
        raise CursorEscaped(f"{getattr(fn, '__qualname__', fn)} returned {type(result).__name__}")
    return result
