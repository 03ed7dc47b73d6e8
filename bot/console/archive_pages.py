"""The archive in the console: threads by channel, topic and region; a thread read as a
conversation, prompt first; search with highlighted matches; and export for admins.

Every read carries the viewer's private channels (bot/visibility.py): what a private
channel said shows only to its members, as on the platform itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.archive_export import FORMATS
from bot.archive_ports import ArchiveReader, ArchiveRepository
from bot.console.audit import Audit
from bot.console.filters import ChosenFilters, read_filters
from bot.console.ports import ThreadReader
from bot.console.records import ThreadKey
from bot.console.scope import Scopes
from bot.console.web import Templates, Visitor, form_value, read_form, secured
from bot.model import Role
from bot.ports import Clock
from bot.ranking import HIT_END, HIT_START
from bot.records import ArchiveFilter
from bot.search_query import SearchTooLong, parse_terms
from bot.services.exports import (
    CONTENT_TYPES,
    community_of,
    cover_for,
    run_export,
    stream_download,
)
from bot.services.prompts import PromptCatalogue

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature

THREADS_SHOWN = 100
HITS_SHOWN = 50


# Each format as the page's own words name it, with the file it makes.
FORMAT_NAMES = {
    "jsonl": "JSON Lines (.jsonl), for analysis",
    "json": "JSON (.json), for analysis",
    "csv": "CSV (.csv), for a spreadsheet",
    "markdown": "Markdown (.md), to read or publish",
    "html": "HTML (.html), a web page to read or publish",
}
FORMAT_CHOICES = tuple((f, FORMAT_NAMES[f]) for f in FORMATS)


class ArchivePages:
    def __init__(
        self,
        threads: ThreadReader,
        archive: ArchiveRepository,
        exports: ArchiveReader,
        scopes: Scopes,
        catalogue: PromptCatalogue,
        audit: Audit,
        clock: Clock,
        templates: Templates,
        timezone: ZoneInfo,
        regions: Sequence[str],
    ) -> None:
        self._regions = [r.lower() for r in regions]  # COPBOT_REGIONS, as the archive keeps them
        self._threads = threads
        self._archive = archive
        self._exports = exports
        self._scopes = scopes
        self._catalogue = catalogue
        self._audit = audit
        self._clock = clock
        self._templates = templates
        self._tz = timezone

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [
            web.get("/console/archive", console.guarded(self.archive)),
            web.get("/console/archive/thread", console.guarded(self.thread)),
            web.get("/console/archive/export", console.guarded(self.export_page, Role.ADMIN)),
            web.post("/console/archive/export", console.guarded(self.export, Role.ADMIN)),
        ]

    async def _chosen(self, given: dict[str, str]) -> ChosenFilters:
        library = await self._catalogue.current()
        return read_filters(given, [t.slug for t in library.topics], self._regions, self._tz)

    async def _form_context(self, viewer: ArchiveFilter) -> dict[str, Any]:
        library = await self._catalogue.current()
        return {
            "channels": await self._threads.channels(viewer),
            "topics": [(t.slug, t.title) for t in library.topics],
            "regions": self._regions,
        }

    async def archive(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        seen = await self._scopes.of(visitor)
        viewer = seen.filter
        chosen = await self._chosen(dict(request.query))
        context = await self._form_context(viewer) | {"left_out": seen.left_out}
        query = chosen.values["q"]
        problems = list(chosen.problems)
        try:
            terms = parse_terms(query)
        except SearchTooLong as e:
            terms = []
            problems.append(e.words)
        else:
            if query and not terms:
                problems.append("Give a word or two to look for, like bias or recruit*.")
        if problems or chosen.filter is None:
            return self._templates.render(
                "archive.html", status=400, visitor=visitor, chosen=chosen,
                problems=problems, threads=None, hits=None, titles={}, **context,
            )  # fmt: skip
        scope = Scopes.narrowed(chosen.filter, viewer)
        library = await self._catalogue.current()
        if terms:
            hits = await self._archive.search(terms, scope, HITS_SHOWN)
            shown = [(h.message, _segments(h.snippet)) for h in hits]
            return self._templates.render(
                "archive.html", visitor=visitor, chosen=chosen, problems=[],
                threads=None, hits=shown, titles={}, **context,
            )  # fmt: skip
        threads = await self._threads.threads(scope, THREADS_SHOWN)
        titles = {
            t.prompt_id: p.title for t in threads if (p := library.prompt(t.prompt_id)) is not None
        }
        topic_names = {t.slug: t.title for t in library.topics}
        return self._templates.render(
            "archive.html", visitor=visitor, chosen=chosen, problems=[], threads=threads,
            hits=None, titles=titles, topic_names=topic_names, **context,
        )  # fmt: skip

    async def thread(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        q = request.query
        key = ThreadKey(
            q.get("platform", ""), q.get("workspace", ""), q.get("channel", ""), q.get("id", "")
        )
        seen = await self._scopes.of(visitor)
        messages = await self._threads.thread(key, seen.filter)
        if not messages:
            # The same answer for a thread that isn't there and one that isn't yours to see
            # (and the same note, there or not, when some channels couldn't be checked).
            return self._templates.render(
                "refused.html",
                status=404,
                visitor=visitor,
                message="There's no thread here that you can read. It may have been erased.",
                left_out=seen.left_out,
            )
        library = await self._catalogue.current()
        prompt = library.prompt(messages[0].prompt_id) if messages[0].prompt_id else None
        topic = library.topic(messages[0].topic) if messages[0].topic else None
        return self._templates.render(
            "thread.html",
            visitor=visitor,
            messages=messages,
            prompt=prompt,
            topic=topic.title if topic else "",
        )

    async def export_page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        seen = await self._scopes.of(visitor)
        context = await self._form_context(seen.filter) | {"left_out": seen.left_out}
        chosen = await self._chosen({})
        return self._templates.render(
            "export.html", visitor=visitor, chosen=chosen, problems=[], formats=FORMAT_CHOICES,
            chosen_format="markdown", **context,
        )  # fmt: skip

    async def export(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await read_form(request)
        given = {name: form_value(form, name) for name in form if isinstance(form[name], str)}
        chosen = await self._chosen(given)
        fmt = form_value(form, "format")
        problems = list(chosen.problems)
        if fmt not in FORMATS:
            problems.append(f"Pick one of the formats: {', '.join(FORMATS)}.")
        seen = await self._scopes.of(visitor)
        viewer = seen.filter
        if problems or chosen.filter is None:
            context = await self._form_context(viewer) | {"left_out": seen.left_out}
            return self._templates.render(
                "export.html", status=400, visitor=visitor, chosen=chosen,
                problems=problems, formats=FORMAT_CHOICES,
                chosen_format=fmt if fmt in FORMATS else "markdown", **context,
            )  # fmt: skip
        # Admins export what they may read: private channels only if they are members.
        scope = Scopes.narrowed(chosen.filter, viewer)
        pseudonymise = form_value(form, "pseudonymise") == "yes"
        now = self._clock.now()
        await self._audit.record(
            visitor.identity, "archive exported", _described(fmt, scope, pseudonymise)
        )
        cover = cover_for(
            await self._catalogue.current(),
            scope,
            community=community_of([(visitor.user.platform, "")]),
            exported_by=visitor.user.display,
            at=now,
            tz=self._tz,
            pseudonymised=pseudonymise,
            left_out=bool(seen.left_out),
        )
        content_type, suffix = CONTENT_TYPES[fmt]
        response = web.StreamResponse(
            headers={
                "Content-Type": f"{content_type}; charset=utf-8",
                "Content-Disposition": (
                    f'attachment; filename="copbot-archive-{now:%Y-%m-%d}.{suffix}"'
                ),
            }
        )
        secured(response)
        await response.prepare(request)
        await stream_download(
            response,
            lambda out: run_export(
                self._exports, fmt, scope, out, cover, pseudonymise=pseudonymise
            ),
        )
        await response.write_eof()
        return response


def _segments(snippet: str) -> list[tuple[str, bool]]:
    """A snippet as (text, matched) parts, for the template to escape and mark."""
    parts: list[tuple[str, bool]] = []
    for i, chunk in enumerate(snippet.split(HIT_START)):
        if i == 0:
            parts.append((chunk, False))
            continue
        hit, _, rest = chunk.partition(HIT_END)
        parts += [(hit, True), (rest, False)]
    return [(text, hit) for text, hit in parts if text]


def _described(fmt: str, f: ArchiveFilter, pseudonymise: bool) -> str:
    chosen = [
        f"{name} {value}"
        for name, value in (
            ("channel", f.channel), ("topic", f.topic), ("region", f.region),
            ("author", f.author),
        )
        if value
    ]  # fmt: skip
    if f.since:
        chosen.append(f"from {f.since:%Y-%m-%d}")
    if f.until:
        chosen.append(f"before {f.until:%Y-%m-%d}")
    extra = ", pseudonymised" if pseudonymise else ""
    return f"{fmt}{extra}; " + (", ".join(chosen) or "everything")
