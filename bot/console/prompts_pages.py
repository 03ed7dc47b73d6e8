"""Prompts in the console, to read: the library and the prompts facilitators added, what
staff suggested, the schedules, and which prompts drew the most replies (counted as the
participation page counts, so that nobody can be picked out)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.participation import count
from bot.console.participation_pages import MIN_PEOPLE
from bot.console.ports import ThreadReader
from bot.console.scope import Scopes
from bot.console.web import Templates, Visitor
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
        templates: Templates,
    ) -> None:
        self._catalogue = catalogue
        self._prompts = prompts
        self._schedules = schedules
        self._threads = threads
        self._scopes = scopes
        self._people = people
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [web.get("/console/prompts", console.guarded(self.page))]

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        library = await self._catalogue.current()
        suggestions = await self._prompts.suggestions(SUGGESTIONS_SHOWN)
        # Suggestions were given to facilitators by name, on purpose (the form says so).
        names = await self._people.names({s.by for s in suggestions})
        counted = count(
            await self._threads.participation(await self._scopes.of(visitor)), MIN_PEOPLE
        )
        most = sorted(
            ((p, n) for p, n in counted["prompt"].shown if p), key=lambda pn: (-pn[1], pn[0])
        )[:MOST_REPLIES_SHOWN]
        topics = {t.slug: t.title for t in library.topics}
        return self._templates.render(
            "prompts.html",
            visitor=visitor,
            library=library,
            topics=topics,
            suggestions=suggestions,
            names=names,
            # A schedule in a private channel is, to someone outside it, as if it weren't.
            schedules=await self._schedules.listing(visitor.user),
            most=[(library.prompt(p), n) for p, n in most],
            least=MIN_PEOPLE,
        )
