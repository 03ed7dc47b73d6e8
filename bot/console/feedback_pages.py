"""Feedback in the console: rounds with their counts; a round's results only once it has
closed with enough answers (the round's threshold, as in chat), drawn as bar charts with a
text table beside each; before that, only the count."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bot.console.charts import bar_chart
from bot.console.scope import listed_out
from bot.console.web import Templates, Visitor
from bot.feedback import FeedbackRepository, QuestionKind, Round, summarise
from bot.visibility import Visibility

if TYPE_CHECKING:
    from bot.console.feature import ConsoleFeature


class FeedbackPages:
    def __init__(
        self, repository: FeedbackRepository, visibility: Visibility, templates: Templates
    ) -> None:
        self._repo = repository
        self._visibility = visibility
        self._templates = templates

    async def _visible(self, visitor: Visitor, round_: Round) -> bool:
        """As in chat: a round announced in a private channel is its members' alone."""
        return round_.channel is None or await self._visibility.may_see(
            visitor.user, round_.channel
        )

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]:
        return [
            web.get("/console/feedback", console.guarded(self.rounds)),
            web.get("/console/feedback/{id}", console.guarded(self.results)),
        ]

    async def rounds(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        rounds = sorted(
            [r for r in await self._repo.rounds() if await self._visible(visitor, r)],
            key=lambda r: r.id,
            reverse=True,
        )
        # Said whether or not a round was hidden, as in search: it tells nothing.
        left_out = listed_out(await self._visibility.view_of(visitor.user))
        return self._templates.render(
            "feedback.html", visitor=visitor, rounds=rounds, left_out=left_out
        )

    async def results(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        given = request.match_info["id"]
        round_ = (
            await self._repo.get(int(given))
            if given.isascii() and given.isdigit() and len(given) < 10
            else None
        )
        if round_ is None or not await self._visible(visitor, round_):
            return self._templates.render(
                "refused.html",
                status=404,
                visitor=visitor,
                message="There's no feedback round here. The feedback page lists them all.",
            )
        results = summarise(round_, await self._repo.answers(round_.id))
        charts = {
            q.question.id: bar_chart(q.distribution)
            for q in results.questions
            if q.question.kind in (QuestionKind.RATING, QuestionKind.CHOICE)
        }
        return self._templates.render("round.html", visitor=visitor, results=results, charts=charts)
