"""Two pages anyone may read, without signing in: what copbot keeps and who sees it
(``/privacy``), and what it is for (``/terms``). A Teams app must link to both; an
organisation with its own privacy notice links there instead (`copbot teams package
--privacy-url`), and may link to this page from it."""

from __future__ import annotations

from aiohttp import web

from bot.console.web import Templates
from bot.services.erasure import Erasure


class AboutPages:
    def __init__(self, templates: Templates, retention_days: int | None, erasure: Erasure) -> None:
        self._templates = templates
        self._retention_days = retention_days
        self._erasure = erasure  # what erasing a person leaves, as the features declare it

    def routes(self, console: object) -> list[web.RouteDef]:
        return [web.get("/privacy", self.privacy), web.get("/terms", self.terms)]

    async def privacy(self, request: web.Request) -> web.StreamResponse:
        return self._templates.render(
            "privacy.html",
            retention_days=self._retention_days,
            kept=self._erasure.kept(),
            notices=self._erasure.notices(),
        )

    async def terms(self, request: web.Request) -> web.StreamResponse:
        return self._templates.render("terms.html")
