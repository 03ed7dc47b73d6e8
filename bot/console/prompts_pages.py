"""Prompts in the console: the library and the prompts facilitators added, what staff
suggested, which prompts drew the most replies (counted as the participation page counts,
so that nobody can be picked out), and the schedules, set up, paused, resumed and stopped
here as in chat (each a POST with the CSRF token, in the audit trail)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.audit import Audit
from bot.console.participation import count
from bot.console.participation_pages import MIN_PEOPLE
from bot.console.ports import ThreadReader
from bot.console.scope import Scopes
from bot.console.web import Templates, Visitor, form_value, read_form
from bot.errors import WordedError
from bot.people import People
from bot.ports import PromptRepository
from bot.services.prompts import PromptCatalogue
from bot.services.schedules import SchedulesFeature

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature

SUGGESTIONS_SHOWN = 50
MOST_REPLIES_SHOWN = 10


class PromptsPages:
    def __init__(
        self,
        catalogue: PromptCatalogue,
        prompts: PromptRepository,
        schedules: SchedulesFeature,
        threads: ThreadReader,
        scopes: Scopes,
        people: People,
        audit: Audit,
        templates: Templates,
    ) -> None:
        self._audit = audit
        self._catalogue = catalogue
        self._prompts = prompts
        self._schedules = schedules
        self._threads = threads
        self._scopes = scopes
        self._people = people
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [
            web.get("/console/prompts", console.guarded(self.page)),
            web.post("/console/prompts/schedule", console.guarded(self.schedule)),
            web.post("/console/prompts/unschedule", console.guarded(self.unschedule)),
            web.post("/console/prompts/pause", console.guarded(self.pause)),
            web.post("/console/prompts/resume", console.guarded(self.resume)),
        ]

    async def schedule(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await read_form(request)
        topic, days = form_value(form, "topic") or "any", form_value(form, "days")
        at, channel = form_value(form, "time"), form_value(form, "channel")
        # The box is labelled "Every", but people may write it out anyway ("every tuesday",
        # "fortnightly on friday"): the sentence is read as they wrote it.
        written = days.split()
        if not written or written[0].lower() not in ("every", "fortnightly"):
            written = ["every", *written]
        words = [topic, *written, "at", at]
        if channel:
            words += ["in", channel if channel.startswith("#") else f"#{channel}"]
        try:
            # As in chat: only channels the person can see on their platform.
            done = await self._schedules.schedule(
                words, visitor.user.platform, None, visitor.identity, viewer=visitor.user, prefix=""
            )
        except WordedError as problem:
            # The form comes back as it was typed, to be put right rather than typed again.
            typed = {"topic": topic, "days": days, "time": at, "channel": channel}
            return await self.page(request, visitor, status=400, problem=str(problem), typed=typed)
        await self._audit.record(visitor.identity, "prompts scheduled", done.split(" (")[0])
        return await self.page(request, visitor, done=done)

    async def unschedule(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._change(request, visitor, self._schedules.cancel, "schedule cancelled")

    async def pause(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._change(request, visitor, self._schedules.pause, "schedule paused")

    async def resume(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._change(request, visitor, self._schedules.resume, "schedule resumed")

    async def _change(
        self,
        request: web.Request,
        visitor: Visitor,
        change: Callable[..., Awaitable[str]],
        action: str,
    ) -> web.StreamResponse:
        form = await read_form(request)  # unreadable forms are a 400 in words, not a 500
        try:
            done = await change(
                form_value(form, "schedule").lstrip("#"), viewer=visitor.user, prefix=""
            )
        except WordedError as problem:
            return await self.page(request, visitor, status=400, problem=str(problem))
        await self._audit.record(visitor.identity, action, done.split(". ")[0])
        return await self.page(request, visitor, done=done)

    async def page(
        self,
        request: web.Request,
        visitor: Visitor,
        *,
        status: int = 200,
        done: str = "",
        problem: str = "",
        typed: dict[str, str] | None = None,
    ) -> web.StreamResponse:
        library = await self._catalogue.current()
        suggestions = await self._prompts.suggestions(SUGGESTIONS_SHOWN)
        # Suggestions were given to facilitators by name, on purpose (the form says so).
        names = await self._people.names({s.by for s in suggestions})
        seen = await self._scopes.of(visitor)
        counted = count(await self._threads.participation(seen.filter), MIN_PEOPLE)
        most = sorted(
            ((p, n) for p, n in counted["prompt"].shown if p), key=lambda pn: (-pn[1], pn[0])
        )[:MOST_REPLIES_SHOWN]
        topics = {t.slug: t.title for t in library.topics}
        return self._templates.render(
            "prompts.html",
            status=status,
            visitor=visitor,
            done=done,
            problem=problem,
            library=library,
            topics=topics,
            suggestions=suggestions,
            names=names,
            # A schedule in a private channel is, to someone outside it, as if it weren't.
            schedules=await self._schedules.schedules(visitor.user),
            schedules_left_out=seen.listed_out,
            most=[(library.prompt(p), n) for p, n in most],
            least=MIN_PEOPLE,
            left_out=seen.left_out,
            typed=typed or {},
        )
