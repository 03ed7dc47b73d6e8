"""Participation (facilitators): how many replies per topic, region and month, as bar
charts with their tables. Counts only, with every group of fewer than ``MIN_PEOPLE``
people hidden so that nobody can be picked out (how: bot/console/participation.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.charts import BarChart, bar_chart
from bot.console.participation import count
from bot.console.ports import ThreadReader
from bot.console.scope import Scopes
from bot.console.web import Templates, Visitor
from bot.services.prompts import PromptCatalogue

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature

MIN_PEOPLE = 5
HEADINGS = (("topic", "By topic"), ("region", "By region"), ("month", "By month"))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Breakdown:
    heading: str
    shown: tuple[tuple[str, int], ...]  # (group, replies) with enough people
    hidden: tuple[str, ...]  # groups with too few people: named, never counted
    chart: BarChart


class ParticipationPages:
    def __init__(
        self,
        threads: ThreadReader,
        scopes: Scopes,
        catalogue: PromptCatalogue,
        templates: Templates,
    ) -> None:
        self._threads = threads
        self._scopes = scopes
        self._catalogue = catalogue
        self._templates = templates

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [web.get("/console/participation", console.guarded(self.page))]

    async def page(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        # Private channels count only for their members, as everywhere in the console.
        seen = await self._scopes.of(visitor)
        library = await self._catalogue.current()
        topics = {t.slug: t.title for t in library.topics}
        names: dict[str, Callable[[str], str]] = {
            "topic": lambda g: topics.get(g, g) if g else "No topic (a channel's own threads)",
            "region": lambda g: g.capitalize() if g else "No region",
            "month": lambda g: f"{MONTHS[int(g[5:7]) - 1]} {g[:4]}",
        }
        counted = count(await self._threads.participation(seen.filter), MIN_PEOPLE)
        breakdowns = [
            Breakdown(
                heading,
                shown := tuple((names[by](g), n) for g, n in counted[by].shown),
                tuple(names[by](g) for g in counted[by].hidden),
                bar_chart(shown),
            )
            for by, heading in (
                ("topic", "By topic"),
                ("region", "By region"),
                ("month", "By month"),
            )
        ]
        return self._templates.render(
            "participation.html",
            visitor=visitor,
            breakdowns=breakdowns,
            least=MIN_PEOPLE,
            left_out=seen.left_out,
        )
