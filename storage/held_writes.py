"""Writes held to be committed together (``WriteBatch``): the writes made while many inbox
items are handled, committed in one transaction on the writer thread, each item's in a
savepoint of its own so that one failing undoes only its own."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlite_utils

from storage.owned import Gate, forget_frames, plain

if TYPE_CHECKING:
    from storage.database import Database


@dataclass(frozen=True)
class Together:
    """How a held write can go in beside others of its kind as one: ``run`` over all their
    ``arg``s at once (a result each, in order), as each one's ``fn`` would have done."""

    run: Callable[[sqlite_utils.Database, list[Any]], list[Any]]
    arg: Any


@dataclass(frozen=True)
class _Held:
    """A write held by a batch: made for ``item``, with what to do with its result once
    it is committed."""

    item: int
    fn: Callable[[sqlite_utils.Database], Any]
    then: Callable[[Any], None] | None
    together: Together | None = None


@dataclass(frozen=True)
class _Outcome:
    results: list[tuple[_Held, Any]]  # the writes that went in, with their results
    failed: dict[int, Exception]  # the items one of whose writes failed


def run_held(
    db: sqlite_utils.Database,
    held: list[_Held],
    last: Callable[[sqlite_utils.Database, set[int]], None] | None,
    gate: Gate,
    failed_before: set[int],
) -> _Outcome:
    """On the writer thread, inside one transaction: each item's writes in a savepoint of
    their own (one failing undoes that item's writes only), then ``last`` with the items
    whose writes failed (here or before). Each write passes the gate, as on its own.

    Items of one write each, of the same kind (``Together``) and next to each other, go in
    as one (a capture batch's messages: one insert, one index update); should that fail,
    they go in one by one, so that only the item at fault fails."""
    results: list[tuple[_Held, Any]] = []
    failed: dict[int, Exception] = {}
    groups: list[list[_Held]] = []
    for h in held:
        if groups and groups[-1][0].item == h.item:
            groups[-1].append(h)
        else:
            groups.append([h])
    start = 0
    while start < len(groups):
        end = start + 1
        run = _together(groups[start])
        while run is not None and end < len(groups) and _together(groups[end]) is run:
            end += 1
        if end - start > 1 and run is not None:
            ops = [group[0] for group in groups[start:end]]
            results += _run_together(db, ops, run, gate, failed)
        else:
            for group in groups[start:end]:
                results += _run_item(db, group, gate, failed, gated=False)
        start = end
    if last is not None:
        gate(last, write=True)
        last(db, failed_before | failed.keys())
    return _Outcome(results, failed)


def _together(group: list[_Held]) -> Callable[..., list[Any]] | None:
    return group[0].together.run if len(group) == 1 and group[0].together else None


def _run_item(
    db: sqlite_utils.Database,
    group: list[_Held],
    gate: Gate,
    failed: dict[int, Exception],
    gated: bool,
) -> list[tuple[_Held, Any]]:
    """One item's writes in a savepoint: all of them go in, or (noted in ``failed``) none."""
    db.conn.execute("SAVEPOINT item")
    done: list[tuple[_Held, Any]] = []
    try:
        for h in group:
            if not gated:
                gate(h.fn, write=True)
            done.append((h, plain(h.fn, h.fn(db))))
    except Exception as error:
        forget_frames(error)
        db.conn.execute("ROLLBACK TO item")
        failed[group[0].item] = error
        done = []
    db.conn.execute("RELEASE item")
    return done


def _run_together(
    db: sqlite_utils.Database,
    ops: list[_Held],
    run: Callable[..., list[Any]],
    gate: Gate,
    failed: dict[int, Exception],
) -> list[tuple[_Held, Any]]:
    passed = []
    for h in ops:
        try:
            gate(h.fn, write=True)
        except Exception as error:  # the gate fails this one write, as on its own
            failed[h.item] = error
        else:
            passed.append(h)
    db.conn.execute("SAVEPOINT together")
    try:
        outcomes = run(db, [h.together.arg for h in passed if h.together])
    except Exception as error:
        forget_frames(error)
        db.conn.execute("ROLLBACK TO together")
        db.conn.execute("RELEASE together")
        results: list[tuple[_Held, Any]] = []
        for h in passed:
            results += _run_item(db, [h], gate, failed, gated=True)
        return results
    db.conn.execute("RELEASE together")
    return list(zip(passed, outcomes, strict=True))


class WriteBatch:
    """Writes held to be committed together: the writes made for many inbox items, each
    held on its way in (``Database.write_later``) while its item is handled, then
    committed in one transaction (one trip to the writer thread, one commit).

    Held writes are committed, in the order they were made, before anything else this
    batch's task does with the database (a read, another write, a checkpoint): whatever
    the task reads sees them, and no later write of its overtakes them. Only when they
    are committed is anything they report acted on (``then``)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._held: list[_Held] = []
        self._item: int | None = None
        self._open = True
        self.failed: dict[int, Exception] = {}  # items whose writes failed, and why

    @contextlib.contextmanager
    def item(self, key: int) -> Iterator[None]:
        """Writes held meanwhile are ``key``'s; if handling it raises, they are dropped
        (it is handled again, writes and all)."""
        self._item = key
        try:
            yield
        except BaseException:
            self._held = [h for h in self._held if h.item != key]
            raise
        finally:
            self._item = None

    def hold(
        self,
        fn: Callable[[sqlite_utils.Database], Any],
        then: Callable[[Any], None] | None,
        together: Together | None = None,
    ) -> bool:
        """Hold ``fn`` for the item being handled; False when there is none (run it now)."""
        if not self._open or self._item is None:
            return False
        if self._item not in self.failed:  # an item whose writes failed is handled again
            self._held.append(_Held(self._item, fn, then, together))
        return True

    async def flush(
        self, last: Callable[[sqlite_utils.Database, set[int]], None] | None = None
    ) -> None:
        """Commit the writes held, then ``last`` given the items whose writes failed, in
        one transaction. An item whose write fails is noted in ``failed`` (the others go
        in); when the transaction itself fails, every item in it is, and the error is
        raised only if ``last`` was given (its caller acts on it)."""
        held, self._held = self._held, []
        if not held and last is None:
            return
        try:
            outcome = await self._db._write_now(
                lambda db: run_held(db, held, last, self._db._gate, set(self.failed))
            )
        except Exception as error:
            for h in held:
                self.failed.setdefault(h.item, error)
            if last is not None:
                raise
            return
        self.failed.update(outcome.failed)
        for h, result in outcome.results:
            if h.then is not None:
                h.then(result)

    def close(self) -> None:
        self._open = False
        self._held.clear()
