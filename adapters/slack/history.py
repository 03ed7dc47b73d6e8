"""Reading a Slack export (Slack's standard layout, zipped or unpacked) as neutral archive
messages: ``channels.json``, ``users.json`` and ``<channel>/<YYYY-MM-DD>.json`` files.

Only people's messages come through, threads intact (a reply's thread is its
``thread_ts``); joins, leaves, bots and tombstones of deleted messages are skipped. Files
are read day by day across channels, so rows reach the archive in time order, as live
messages do.

A large export is read in a worker process, which also does the caller's work on each
batch (for an import, the Python half of writing it): that work would otherwise hold this
process's interpreter lock against the thread writing to SQLite, so the two would take
turns instead of sharing the machine's cores.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from adapters.slack.text import plain_text
from bot.archive_ports import HistoryUnreadable
from bot.records import ArchivedMessage

PLATFORM = "slack"
_SKIPPED = frozenset(
    {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
     "bot_message", "tombstone", "pinned_item", "reminder_add"}
)  # fmt: skip
IN_FLIGHT = 2  # batches read ahead of the writer: memory stays bounded
WORKER_THRESHOLD = 400  # smaller exports are read in-process: a worker costs ~0.3 s to start

Region = Callable[[str], str]
_Done = TypeVar("_Done")
_Read = tuple[int, Any]  # a batch from the worker: the day files it took, and work's result
# Batches are written as they are read, and an import adds nothing twice.
_RUN_AGAIN = "What was read is imported: run the import again to add the rest."


class ExportError(HistoryUnreadable):
    """The file isn't a Slack export copbot can read; the message says why."""


@dataclass(frozen=True)
class SlackExport:
    path: Path

    def day_files(self) -> int:
        """How many channel-day files the export holds (for a progress bar)."""
        return len(_open(self.path).days())

    def batches(
        self,
        work: Callable[[list[ArchivedMessage]], _Done],
        size: int,
        progress: Callable[[int], None] | None = None,
        region_of: Region | None = None,
    ) -> Iterator[_Done]:
        """Every person's message in the export, day by day across channels, at least
        ``size`` at a time (a day file is never split), each batch passed through ``work``
        where it was read; ``progress`` is told of the day files read."""
        files = _open(self.path)
        days = files.days()
        region_of = region_of or _no_region
        reader = _Reader(files, region_of)  # fails early, with a sentence, on a non-export
        if len(days) < WORKER_THRESHOLD:
            for done, messages in reader.batches(days, size):
                yield work(messages)
                if progress is not None:
                    progress(done)
            return
        context = multiprocessing.get_context("spawn")  # no fork of a process with threads
        with ProcessPoolExecutor(
            1,
            mp_context=context,
            initializer=_start_worker,
            initargs=(self.path, region_of, days, work, size),
        ) as pool:
            # One worker: it takes the calls in turn, each returning its next batch.
            pending = deque(pool.submit(_worker_next) for _ in range(IN_FLIGHT))
            while (read := _result(pending.popleft())) is not None:
                pending.append(pool.submit(_worker_next))
                done, result = read
                yield result
                if progress is not None:
                    progress(done)


def _result(future: Future[_Read | None]) -> _Read | None:
    try:
        return future.result()
    except BrokenProcessPool:
        # Killed (out of memory, say): what it had read is kept, and a second run adds
        # only the rest.
        raise ExportError(
            f"the process reading the export stopped before the end. {_RUN_AGAIN}"
        ) from None


class _Reader:
    """The export's people and channels, and the messages of its day files."""

    def __init__(self, files: _Files, region_of: Region) -> None:
        try:
            channels = {c["name"]: c["id"] for c in files.load("channels.json")}
            people = files.load("users.json")
        except KeyError as e:
            raise ExportError(f"{files.where} has no {e.args[0]}: is it a Slack export?") from None
        self._files = files
        self._channels = channels
        self._by_id = {cid: name for name, cid in channels.items()}
        self._names = {u["id"]: _name(u) for u in people}
        self._workspace = next((u.get("team_id", "") for u in people if u.get("team_id")), "")
        self._region = {name: region_of(name) for name in channels}

    def batches(
        self, days: Iterable[str], size: int
    ) -> Iterator[tuple[int, list[ArchivedMessage]]]:
        """The messages of these day files, at least ``size`` at a time (the last batch
        may be smaller), each with how many day files it took."""
        batch: list[ArchivedMessage] = []
        done = 0
        for day in days:
            done += 1
            batch += self._messages(day)
            if len(batch) >= size:
                yield done, batch
                batch, done = [], 0
        if done:
            yield done, batch

    def _messages(self, day: str) -> list[ArchivedMessage]:
        channel_name = day.split("/", 1)[0]
        channel_id = self._channels.get(channel_name)
        if channel_id is None:
            return []
        try:
            raws = self._files.load(day)
        except KeyError:
            raise ExportError(
                f"{day} went from {self._files.where} while it was being read: was the export"
                f" moved or changed? {_RUN_AGAIN}"
            ) from None
        messages = (self._message(raw, channel_id, channel_name) for raw in raws)
        return [m for m in messages if m is not None]

    def _message(
        self, raw: dict[str, Any], channel_id: str, channel_name: str
    ) -> ArchivedMessage | None:
        if raw.get("type") != "message" or raw.get("subtype") in _SKIPPED or raw.get("bot_id"):
            return None
        user, ts = raw.get("user"), raw.get("ts")
        if not user or not ts:
            return None
        text = raw.get("text") or ""
        if "<" in text or "&" in text:
            text = plain_text(text, self._names, self._by_id)
        if not text.strip():
            return None  # e.g. a file shared with no comment
        edited = raw.get("edited") or {}
        return ArchivedMessage(
            PLATFORM,
            raw.get("team") or self._workspace,
            channel_id,
            channel_name,
            raw.get("thread_ts") or ts,
            ts,
            f"{PLATFORM}:{user}",
            self._names.get(user) or raw.get("user_name") or user,
            False,
            text,
            _moment(ts),
            _moment(edited["ts"]) if edited.get("ts") else None,
            1 if edited else 0,
            "",
            "",
            self._region.get(channel_name, ""),
        )


# The worker process's batches, begun once when the worker starts (per process, not shared).
_worker: Iterator[_Read] | None = None


def _start_worker(
    path: Path,
    region_of: Region,
    days: list[str],
    work: Callable[[list[ArchivedMessage]], Any],
    size: int,
) -> None:
    global _worker
    try:
        reader = _Reader(_open(path), region_of)
    except ExportError as error:
        # Raised here, it would only break the pool; raised by the first call, it is the
        # importer's to show (the export changed since the importer opened it).
        _worker = _raising(error)
        return
    _worker = ((done, work(messages)) for done, messages in reader.batches(days, size))


def _raising(error: Exception) -> Iterator[_Read]:
    """Batches whose first next() raises ``error``."""
    yield from ()
    raise error


def _worker_next() -> _Read | None:
    """The next batch: the day files it took and ``work``'s result; None after the last."""
    assert _worker is not None
    return next(_worker, None)


def _no_region(channel_name: str) -> str:
    return ""


def _name(user: dict[str, Any]) -> str:
    profile = user.get("profile") or {}
    return str(
        profile.get("display_name") or profile.get("real_name") or user.get("real_name")
        or user.get("name") or user["id"]
    )  # fmt: skip


def _moment(ts: str) -> datetime:
    return datetime.fromtimestamp(float(ts), UTC)


def _open(path: Path) -> _Files:
    if not path.exists():
        raise ExportError(f"{path} is not there")
    if path.is_dir():
        return _Folder(path)
    if zipfile.is_zipfile(path):
        return _Zip(path)
    raise ExportError(f"{path} is neither a folder nor a zip file from a Slack export")


class _Files:
    where: str

    def load(self, name: str) -> Any:
        raise NotImplementedError

    def days(self) -> list[str]:
        raise NotImplementedError


class _Folder(_Files):
    def __init__(self, root: Path) -> None:
        self.where = str(root)
        self._root = str(root)

    def load(self, name: str) -> Any:
        try:
            with open(os.path.join(self._root, name), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise KeyError(name) from None
        except OSError as e:
            raise ExportError(f"{name} in the export can't be read ({e.strerror})") from None
        return _parse(name, data)

    def days(self) -> list[str]:
        found = []
        for channel in os.scandir(self._root):
            if channel.is_dir():
                found += [
                    f"{channel.name}/{day.name}"
                    for day in os.scandir(channel.path)
                    if day.name.endswith(".json")
                ]
        return _in_time_order(found)


class _Zip(_Files):
    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self._zip = zipfile.ZipFile(path)
        self._names = set(self._zip.namelist())

    def load(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        try:
            data = self._zip.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            damaged = f"{name} in the export can't be read: the zip file is damaged"
            raise ExportError(damaged) from None
        return _parse(name, data)

    def days(self) -> list[str]:
        return _in_time_order(n for n in self._names if n.count("/") == 1 and n.endswith(".json"))


def _in_time_order(names: Iterable[str]) -> list[str]:
    """Day by day across channels (not channel by channel), so the archive's rows arrive
    in time order, as live messages do: search's "newest matches" rely on it."""
    return sorted(names, key=lambda n: (n.rsplit("/", 1)[-1], n))


def _parse(name: str, data: bytes) -> Any:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"{name} in the export isn't valid JSON ({e})") from None
