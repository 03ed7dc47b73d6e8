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

import errno
import json
import multiprocessing
import os
import stat
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import orjson

from adapters.payload import OBJECT
from adapters.slack.schema import Malformed, Payload, ident, obj, required, text, ts, word
from adapters.slack.text import plain_text
from adapters.slack.translate import NAME_LIMIT
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
# Far above any file Slack writes (a busy channel's day, a large workspace's users.json),
# far below what would exhaust memory once parsed.
FILE_LIMIT = 100_000_000
_LINK = (
    "{} in the export is a symbolic link: copbot reads the export's own files, not what a link"
    " points to"
)
# Batches are written as they are read, and an import adds nothing twice.
_RUN_AGAIN = "What was read is imported: run the import again to add the rest."


class ExportError(HistoryUnreadable):
    """The file isn't a Slack export copbot can read; the message says why."""

    def __init__(self, message: str) -> None:
        # It names the export's files, whose names may hold anything but "/": a control
        # character shown as itself could rewrite the admin's terminal or split the line.
        if not message.isprintable():
            message = "".join(
                c if c.isprintable() else c.encode("unicode_escape").decode() for c in message
            )
        super().__init__(message)


@dataclass(frozen=True)
class SlackExport:
    path: Path

    def day_files(self) -> int:
        """How many channel-day files the export holds (for a progress bar); raises
        ExportError, as reading it would, on what isn't a Slack export."""
        files = _open(self.path)
        _Reader(files, _no_region)
        return len(files.days())

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


_REMEMBERED = 100_000  # ids and thread timestamps a reader remembers having checked


class _Reader:
    """The export's people and channels, and the messages of its day files."""

    def __init__(self, files: _Files, region_of: Region) -> None:
        try:
            channels = dict(_each(files, "channels.json", "channel", _channel))
            people = list(_each(files, "users.json", "person", _person))
        except KeyError as e:
            raise ExportError(f"{files.where} has no {e.args[0]}: is it a Slack export?") from None
        self._files = files
        self._channels = channels
        self._by_id = {cid: name for name, cid in channels.items()}
        self._names = {uid: name for uid, name, _ in people}
        self._workspace = next((team for _, _, team in people if team), "")
        self._region = {name: region_of(name) for name in channels}
        # One set a field: a user id that passed is no proof that it is a thread's timestamp.
        self._passed: dict[str, set[str]] = {"user": set(), "team": set(), "thread_ts": set()}

    def _checked(self, raw: Payload, key: str, read: Callable[[Payload, str], str]) -> str:
        """``read(raw, key)``, remembering what it passed (a million messages' checks, 10 s
        of an import each time, come to about 2 s this way)."""
        value = read(raw, key)
        passed = self._passed[key]
        if len(passed) >= _REMEMBERED:
            passed.clear()
        passed.add(value)
        return value

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
        read = partial(self._message, channel_id=channel_id, channel_name=channel_name)
        return [m for m in _each(self._files, day, "message", read, raws) if m is not None]

    def _message(self, raw: Payload, channel_id: str, channel_name: str) -> ArchivedMessage | None:
        if raw.get("type") != "message":
            word(raw, "type")  # one that isn't a keyword is named; another kind is skipped
            return None
        if raw.get("subtype") is not None and word(raw, "subtype") in _SKIPPED:
            return None
        if raw.get("bot_id"):
            return None
        passed = self._passed
        user, team, thread = raw.get("user"), raw.get("team"), raw.get("thread_ts")
        # Checked once each: a day's messages name the same people, workspace and threads.
        if not (type(user) is str and user in passed["user"]):
            user = self._checked(raw, "user", ident)
        if not (team is None or (type(team) is str and team in passed["team"])):
            team = self._checked(raw, "team", ident)
        sent = ts(raw, "ts")
        if not user or not sent:
            return None
        if thread is None or thread == sent:
            thread = sent
        elif not (type(thread) is str and thread in passed["thread_ts"]):
            thread = self._checked(raw, "thread_ts", ts)
        words = text(raw, "text")
        if "<" in words or "&" in words:
            words = plain_text(words, self._names, self._by_id)
        if not words.strip():
            return None  # e.g. a file shared with no comment
        edited, edited_at = raw.get("edited"), ""
        if edited is not None:
            edited = obj(raw, "edited")
            try:
                edited_at = ts(edited, "ts")
            except Malformed:
                raise Malformed("edited.ts is not a Slack timestamp") from None
        return ArchivedMessage(
            PLATFORM,
            team or self._workspace,
            channel_id,
            channel_name,
            thread,
            sent,
            f"{PLATFORM}:{user}",
            self._names.get(user) or text(raw, "user_name", NAME_LIMIT) or user,
            False,
            words,
            _moment(sent),
            _moment(edited_at) if edited_at else None,
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


_Item = TypeVar("_Item")


def _each(
    files: _Files, name: str, what: str, read: Callable[[Payload], _Item], records: Any = None
) -> Iterator[_Item]:
    """``read`` of each record of the export's file ``name`` (loaded unless given): a file
    or a record that isn't what Slack writes is one sentence naming the file and the
    record's place, never a half-read message in the archive."""
    records = files.load(name) if records is None else records
    if not isinstance(records, list):
        raise ExportError(f"{name} in the export isn't a list, as a Slack export's files are")
    for n, record in enumerate(records, 1):
        try:
            if not isinstance(record, OBJECT):
                raise Malformed("it is not an object")
            yield read(record)
        except Malformed as e:
            where = f"{name} in the export can't be read: in its {what} {n}"
            raise ExportError(f"{where}, {e}") from None


def _channel(record: Payload) -> tuple[str, str]:
    return required(text(record, "name", NAME_LIMIT), "name"), required(ident(record, "id"), "id")


def _person(record: Payload) -> tuple[str, str, str]:
    """A person's id, name and workspace."""
    uid = required(ident(record, "id"), "id")
    profile = obj(record, "profile")
    name = (
        text(profile, "display_name", NAME_LIMIT) or text(profile, "real_name", NAME_LIMIT)
        or text(record, "real_name", NAME_LIMIT) or text(record, "name", NAME_LIMIT) or uid
    )  # fmt: skip
    return uid, name, ident(record, "team_id")


def _moment(sent: str) -> datetime:
    return datetime.fromtimestamp(float(sent), UTC)  # a Slack timestamp: up to year 2286


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
        # Not through a link (an export unpacked from a hostile zip may hold one to any file
        # copbot can read), nor from a pipe or a device, which could be read for ever.
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW
        try:
            fd = os.open(os.path.join(self._root, name), flags)
        except FileNotFoundError:
            raise KeyError(name) from None
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ExportError(_LINK.format(name)) from None
            raise ExportError(f"{name} in the export can't be read ({e.strerror})") from None
        with os.fdopen(fd, "rb") as f:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                raise ExportError(f"{name} in the export isn't a file, so copbot can't read it")
            _within_limit(name, found.st_size)
            try:
                # A byte past its size, to see it grew since; not FILE_LIMIT's worth, which
                # would ask for 100 MB of memory for each day's few kilobytes.
                data = f.read(found.st_size + 1)
            except OSError as e:
                raise ExportError(f"{name} in the export can't be read ({e.strerror})") from None
        _within_limit(name, len(data))  # grown since
        return _parse(name, data)

    def days(self) -> list[str]:
        found = []
        try:
            with os.scandir(self._root) as channels:
                for channel in channels:
                    if channel.is_symlink() and channel.is_dir():
                        raise ExportError(_LINK.format(channel.name))
                    if channel.is_dir(follow_symlinks=False):
                        with os.scandir(channel.path) as days:
                            found += [
                                f"{channel.name}/{day.name}"
                                for day in days
                                if day.name.endswith(".json")
                            ]
        except OSError as e:
            where = e.filename or self.where
            raise ExportError(f"{where} can't be read ({e.strerror})") from None
        return _in_time_order(found)


class _Zip(_Files):
    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self._zip = zipfile.ZipFile(path)
        self._names = set(self._zip.namelist())

    def load(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        _within_limit(name, self._zip.getinfo(name).file_size)  # zipfile reads no further
        try:
            data = self._zip.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError):
            damaged = f"{name} in the export can't be read: the zip file is damaged"
            raise ExportError(damaged) from None
        return _parse(name, data)

    def days(self) -> list[str]:
        return _in_time_order(n for n in self._names if n.count("/") == 1 and n.endswith(".json"))


def _within_limit(name: str, size: int) -> None:
    """A file far larger than Slack writes (a zip bomb's, say) is refused before it is read."""
    if size > FILE_LIMIT:
        raise ExportError(
            f"{name} in the export is {size / 1e6:,.0f} MB, more than copbot reads from one file"
            f" ({FILE_LIMIT / 1e6:,.0f} MB): is it really from a Slack export?"
        )


def _in_time_order(names: Iterable[str]) -> list[str]:
    """Day by day across channels (not channel by channel), so the archive's rows arrive
    in time order, as live messages do: search's "newest matches" rely on it."""
    return sorted(names, key=lambda n: (n.rsplit("/", 1)[-1], n))


def _parse(name: str, data: bytes) -> Any:
    try:
        # orjson reads a day file in a third of json's time. What it refuses (a lone
        # surrogate, NaN, nesting past 1,024 levels, text that isn't JSON) goes to json,
        # whose value or error is then the answer, as before. (Not bot.codec.parse_json,
        # which sends text with many brackets to json: a day of Slack's messages has many.)
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ExportError(f"{name} in the export isn't valid JSON ({e})") from None
    except RecursionError:
        raise ExportError(f"{name} in the export isn't valid JSON (nested too deeply)") from None
