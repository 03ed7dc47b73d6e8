"""Exporting the archive: the runner shared by the command line and chat, and one-time
download links for admins who ask in chat.

A link is ``/export/<id>.<expiry>.<signature>``: the signature (HMAC-SHA256) makes it
unguessable and untamperable, the expiry makes it short lived, and the database marks it
used on the first download. The key is derived from COPBOT_SECRET_KEY when it is set, so
that changing it voids every link already sent, and nothing in the database file (or a
backup of it) can sign one; without it, it is a key made on first use and kept in the
database.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

from aiohttp import web

from bot import archive_export
from bot.archive_export import (
    ENCODINGS,
    FORMATS,
    THREADED,
    Chunk,
    Cover,
    Pseudonyms,
    Row,
    describe_filter,
)
from bot.archive_ports import ArchiveReader, ExportLinkRepository
from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError
from bot.console.audit import Audit
from bot.errors import WhyRefused, never_refused
from bot.interaction import Interaction
from bot.model import OutgoingMessage, Role, UserRef, split_identity
from bot.ports import Clock
from bot.records import ArchiveFilter, ExportLink
from bot.registry import PersonalData, Registry
from bot.router import RoleLookup
from bot.services.export_pages import (
    ASK_AGAIN,
    LANDING,
    PAGE_HEADERS,
    USED,
    refusal_page,
    worded,
)
from bot.services.prompts import PromptCatalogue
from bot.timefmt import UK, for_people
from bot.visibility import Visibility
from prompts import Library

log = logging.getLogger(__name__)

LINK_LIFETIME = timedelta(minutes=15)
# id (token_urlsafe), expiry (Unix seconds: 10 digits until the year 2286), signature
# (an unpadded base64url SHA-256).
TOKEN = re.compile(
    r"(?P<id>[A-Za-z0-9_-]{1,64})\.(?P<expires>[0-9]{1,10})\.(?P<signature>[A-Za-z0-9_-]{43})",
    re.ASCII,
)
CONTENT_TYPES = {
    "jsonl": ("application/x-ndjson", "jsonl"),
    "json": ("application/json", "json"),
    "csv": ("text/csv", "csv"),
    "markdown": ("text/markdown", "md"),
    "html": ("text/html", "html"),
}


def run_export(
    reader: ArchiveReader,
    fmt: str,
    f: ArchiveFilter,
    out: TextIO,
    cover: Cover,
    *,
    pseudonymise: bool = False,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the selected part of the archive to ``out``; blocking, for a worker thread
    or the command line. Returns the number of messages written."""
    if fmt in ENCODINGS and not pseudonymise:
        # Records storage writes itself: no per-message work in Python at all.
        chunks = reader.encoded(f, fmt)
        if progress is not None:
            chunks = _counted_chunks(chunks, progress)
        return archive_export.write_encoded(fmt, chunks, out)
    pseudonyms = Pseudonyms(reader.authors(f)) if pseudonymise else None
    if fmt in THREADED and cover.count is None:
        cover = replace(cover, count=reader.count(f))  # people read it before the messages
    threaded = fmt in THREADED
    shown = archive_export.READABLE_FIELDS if threaded else None
    rows = archive_export.records(reader.rows(f, threaded, shown, as_stored=threaded), pseudonyms)
    if progress is not None:
        rows = _counted(rows, progress)
    return archive_export.write(fmt, rows, out, cover)


def cover_for(
    library: Library,
    f: ArchiveFilter,
    *,
    community: str,
    exported_by: str,
    at: datetime,
    tz: ZoneInfo,
    pseudonymised: bool = False,
    left_out: bool = False,
) -> Cover:
    """What a Markdown or HTML export says about itself, with the library's names;
    ``left_out`` when copbot couldn't check who is in some channels, whose
    messages are then not in it."""

    def topic_name(slug: str) -> str:
        topic = library.topic(slug)
        return topic.title if topic else slug

    return Cover(
        community=community,
        filters=describe_filter(f, topic_name, tz, pseudonymised=pseudonymised),
        exported_by=exported_by,
        exported_at=at,
        timezone=tz,
        prompt_of=library.prompt,
        topic_name=topic_name,
        left_out=LEFT_OUT if left_out else "",
    )


# On an export's cover, when it isn't all the person who asked may read. Any channel, not
# only members-only ones: a Teams team's list of members can be out of reach too.
LEFT_OUT = (
    "messages from channels whose members copbot couldn't check when this was made "
    "(export again later to include them)"
)


PLATFORM_NAMES = {"slack": "Slack", "teams": "Microsoft Teams", "local": "the playground"}


def community_of(places: Iterable[tuple[str, str]]) -> str:
    """The community in words, from the (platform, workspace) pairs copbot is in."""
    named = []
    for platform, workspace in sorted(set(places)):
        name = PLATFORM_NAMES.get(platform, platform)
        named.append(f"{name} workspace {workspace}" if workspace else name)
    return ", ".join(named) or "copbot"


def _counted_chunks(chunks: Iterable[Chunk], progress: Callable[[int], None]) -> Iterator[Chunk]:
    for chunk in chunks:
        progress(chunk[0])
        yield chunk


def _counted(rows: Iterable[Row], progress: Callable[[int], None]) -> Iterator[Row]:
    for n, row in enumerate(rows, start=1):
        if n % 1000 == 0:
            progress(1000)
        yield row


@dataclass(frozen=True)
class _Asker:
    community: str
    name: str
    until: datetime  # the link's expiry: after it, nobody needs the name


class ExportsFeature:
    def __init__(
        self,
        reader: ArchiveReader,
        links: ExportLinkRepository,
        catalogue: PromptCatalogue,
        chat: Chat,
        clock: Clock,
        public_url: str,
        roles: RoleLookup,
        visibility: Visibility,
        timezone: ZoneInfo = UK,
        audit: Audit | None = None,
        secret_key: str = "",
        why_refused: WhyRefused = never_refused,
    ) -> None:
        """``secret_key``: COPBOT_SECRET_KEY, or "" for the key kept in the database."""
        self._why_refused = why_refused
        self._visibility = visibility
        self._tz = timezone
        self._audit = audit
        self._asked: dict[str, _Asker] = {}
        self._roles = roles
        self._signing_key: bytes | None = (
            hmac.new(secret_key.encode(), LINK_KEY_PURPOSE, hashlib.sha256).digest()
            if secret_key
            else None
        )
        self._reader = reader
        self._links = links
        self._catalogue = catalogue
        self._chat = chat
        self._clock = clock
        self._public_url = public_url.rstrip("/")

    def register(self, registry: Registry) -> None:
        registry.route(*self.routes())
        registry.keeps(
            PersonalData(
                "export link(s)",
                ("export_links.created_by",),
                erase=self._links.forget_creator,
                on_opt_out=False,
                expire=self._links.purge_before,
                notice="If you are an admin, the export links you asked for.",
            )
        )
        registry.verb(
            "export",
            "Get a download link for the archive, by direct message",
            self.export,
            usage="[jsonl|json|csv|markdown|html]",
            role=Role.ADMIN,
            details=(
                "The link works once, for 15 minutes. Markdown and HTML read well and "
                "publish easily; JSON Lines and CSV suit analysis. Without a format, Markdown."
            ),
        )

    def routes(self) -> list[web.RouteDef]:
        # Opening the link shows a page; only its button downloads. Link checkers in mail
        # and chat open links before people do, and would use a one-time link up.
        return [
            web.get("/export/{token}", worded(self.landing, self._why_refused)),
            web.post("/export/{token}", worded(self.download, self._why_refused)),
        ]

    async def landing(self, request: web.Request) -> web.StreamResponse:
        link_id, _ = await self._valid(request.match_info["token"])
        link = await self._links.unused(link_id)
        if link is None:  # not "ready" when it can't be downloaded
            raise refusal_page(web.HTTPGone, USED, ASK_AGAIN)
        await self._asker_still_admin(link)
        return web.Response(text=LANDING, content_type="text/html", headers=PAGE_HEADERS)

    async def _asker_still_admin(self, link: ExportLink) -> None:
        if await self._roles.role_of(link.created_by) < Role.ADMIN:
            raise refusal_page(
                web.HTTPForbidden, "Whoever asked for this export is no longer an admin."
            )

    async def _valid(self, token: str) -> tuple[str, datetime]:
        """The link's id and expiry, when it is genuine and still current."""
        # The shape of a link this copbot made, in ASCII only: anything else (digits like
        # "²" that int() refuses, thousands of digits, non-ASCII signatures, which
        # compare_digest refuses) is no link, before any conversion is tried.
        shape = TOKEN.fullmatch(token)
        if shape is None or not hmac.compare_digest(
            shape["signature"], _sign(await self._key(), shape["id"], int(shape["expires"]))
        ):
            log.info("an export address that is not a genuine link was refused")
            raise refusal_page(web.HTTPNotFound, "There's no export at this address.")
        link_id = shape["id"]
        expires = datetime.fromtimestamp(int(shape["expires"]), UTC)
        if expires < self._clock.now():
            raise refusal_page(web.HTTPGone, "This link has expired.", ASK_AGAIN)
        return link_id, expires

    async def _key(self) -> bytes:
        # Derived from COPBOT_SECRET_KEY when it is set (the database's key is then neither
        # made nor read); otherwise read once: a link checked is then no write to the database.
        if self._signing_key is None:
            self._signing_key = await self._links.key()
        return self._signing_key

    async def export(self, ix: Interaction, args: Args) -> None:
        fmt = args.get(0, "markdown").lower()
        if fmt == "md":
            fmt = "markdown"
        if fmt not in FORMATS or len(args) > 1:
            raise UsageError(
                f"`{args.text}` isn't a format I can export; pick one of {', '.join(FORMATS)}."
            )
        if not self._public_url:
            raise CommandError(
                "I can't make a download link because COPBOT_PUBLIC_URL isn't set. On the "
                "server, `copbot export` writes the same export to a file."
            )
        now = self._clock.now()
        where = ix.origin.channel
        # Admins see through copbot what their platform shows them: private channels'
        # messages only from those they are in (`copbot export` on the server has them all).
        view = await self._visibility.view_of(ix.user)
        link = ExportLink(
            secrets.token_urlsafe(12),
            fmt,
            # The asker's community only; the link carries its filter whole.
            ArchiveFilter(
                workspace=(where.platform, where.workspace), viewer_channels=view.channels
            ),
            ix.user.identity,
            now,
            now + LINK_LIFETIME,
        )
        await self._links.create(link)
        # Names of those whose links expired unused go: kept no longer than the link.
        self._asked = {k: a for k, a in self._asked.items() if a.until > now}
        self._asked[link.id] = _Asker(
            community_of([(where.platform, where.workspace)]), ix.user.display, link.expires_at
        )
        url = f"{self._public_url}/export/{await self._token(link)}"
        until = for_people(link.expires_at, self._tz)
        await ix.send_privately(
            OutgoingMessage.of(
                f"Here's your export of the archive ({fmt}): [download it]({url})",
                f"The link works once, until {until}. It holds people's words: please keep it "
                "to yourself and store the file somewhere safe.",
                *((view.note,) if view.note else ()),
            ),
            "I've sent you a download link by direct message.",
        )

    async def _token(self, link: ExportLink) -> str:
        expires = int(link.expires_at.timestamp())
        return f"{link.id}.{expires}.{_sign(await self._key(), link.id, expires)}"

    async def download(self, request: web.Request) -> web.StreamResponse:
        link_id, _ = await self._valid(request.match_info["token"])
        now = self._clock.now()
        # The role first: a refusal leaves the link as it was, to work again should the
        # role come back before it expires.
        if (waiting := await self._links.unused(link_id)) is not None:
            await self._asker_still_admin(waiting)
        link = await self._links.use(link_id, now)
        if link is None:
            raise refusal_page(web.HTTPGone, USED, ASK_AGAIN)
        await self._asker_still_admin(link)  # and had it gone meanwhile
        chosen, left_out = await self._still_visible(link)
        if self._audit is not None:
            await self._audit.record(
                link.created_by, "archive exported", f"{link.format}, from a link sent in chat"
            )
        content_type, suffix = CONTENT_TYPES[link.format]
        response = web.StreamResponse(
            headers={
                "Content-Type": f"{content_type}; charset=utf-8",
                "Content-Disposition": (
                    f'attachment; filename="copbot-archive-{now:%Y-%m-%d}.{suffix}"'
                ),
                **PAGE_HEADERS,
            }
        )
        await response.prepare(request)
        library = await self._catalogue.current()
        # Who asked, by name, is known in this process; after a restart, by identity.
        asker = self._asked.pop(link.id, None) or _Asker(
            community_of([(split_identity(link.created_by)[0], "")]), link.created_by, now
        )
        cover = cover_for(
            library,
            chosen,
            community=asker.community,
            exported_by=asker.name,
            at=now,
            tz=self._tz,
            left_out=left_out,
        )
        await stream_download(
            response,
            lambda out: run_export(self._reader, link.format, chosen, out, cover),
        )
        await response.write_eof()
        return response

    async def _still_visible(self, link: ExportLink) -> tuple[ArchiveFilter, bool]:
        """The link's filter, with the private channels its asker is in now, as their
        search now would show them: one they left since asking is left out, and one the
        platform couldn't check when they asked is in once it can. And whether it couldn't
        say for some now (those are left out, and the cover says so)."""
        if link.filter.viewer_channels is None:
            return link.filter, False
        now = await self._visibility.view_of(UserRef.parse(link.created_by))
        return replace(link.filter, viewer_channels=now.channels), not (now.sure and now.whole)


# What the export links' key is derived for, from COPBOT_SECRET_KEY: a key of their own, as
# each Signer has (bot/signing.py), so that no other signature can pass for a link's.
LINK_KEY_PURPOSE = b"copbot export links"


def _sign(key: bytes, link_id: str, expires: int) -> str:
    digest = hmac.new(key, f"{link_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class _QueueWriter(io.TextIOBase):
    """A text stream, written from a worker thread, read as byte chunks on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
        self._loop = loop
        self._queue = queue
        self._buffer: list[str] = []
        self._size = 0
        self.abandoned = False  # the download stopped; the export should too

    def write(self, text: str) -> int:
        self._buffer.append(text)
        self._size += len(text)
        if self._size >= 64 * 1024:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.abandoned:
            raise ConnectionAbortedError("the download was abandoned")
        if self._buffer:
            chunk = "".join(self._buffer).encode()
            self._buffer, self._size = [], 0
            # Waits while the queue is full: the download paces the export.
            asyncio.run_coroutine_threadsafe(self._queue.put(chunk), self._loop).result()


async def stream_download(response: web.StreamResponse, produce: Callable[[TextIO], int]) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=8)
    writer = _QueueWriter(loop, queue)

    def work() -> None:
        try:
            produce(writer)  # type: ignore[arg-type]
            writer.flush()
        finally:
            asyncio.run_coroutine_threadsafe(queue.put(None), loop).result()

    task = loop.run_in_executor(None, work)
    try:
        while (chunk := await queue.get()) is not None:
            await response.write(chunk)
    finally:
        writer.abandoned = True
        while not task.done():  # let a blocked writer through, so the thread can stop
            if not queue.empty():
                queue.get_nowait()
            await asyncio.sleep(0.01)
    with contextlib.suppress(ConnectionAbortedError):
        await task
