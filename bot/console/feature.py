"""The console's front door: `/cop console` and its sign-in links, sessions, sign-out, and
the check every page goes through.

Every page is wrapped by ``guarded``: the session is read and the person's role looked up
again on every request, so losing the role ends their console at once; every POST must
come from copbot's own page and carry the session's CSRF token.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from importlib import resources
from typing import Protocol

from aiohttp import web

from bot.chat import Chat
from bot.commands import Args, CommandError, UsageError
from bot.console.audit import Audit
from bot.console.ports import SessionRepository
from bot.console.sign_in import (
    LINK_LIFETIME,
    SESSION_LIFETIME,
    LinkProblem,
    LinkRefused,
    Sessions,
    SignInLinks,
)
from bot.console.web import (
    COOKIE,
    ORIGIN_ONLY,
    Page,
    Templates,
    Visitor,
    clear_cookie,
    form_value,
    read_form,
    same_origin,
    secured,
    set_cookie,
)
from bot.errors import WhyRefused, never_refused, unwritable
from bot.interaction import Interaction
from bot.logs import stack_only
from bot.model import OutgoingMessage, Role, UserRef, split_identity
from bot.people import People
from bot.ports import Clock
from bot.registry import PersonalData, Registry
from bot.roles import Roles

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
NEEDS_ROLE = "The console is for facilitators and admins."
BROKE = (
    "Something went wrong on copbot's side and that page couldn't be shown. Please try again "
    "in a minute; if it keeps happening, let your copbot admin know."
)


class ConsolePages(Protocol):
    """A group of console pages; each wraps its handlers with ``console.guarded``."""

    def routes(self, console: ConsoleFeature) -> list[web.RouteDef]: ...


class ConsoleFeature:
    def __init__(
        self,
        links: SignInLinks,
        sessions: Sessions,
        repository: SessionRepository,
        audit: Audit,
        roles: Roles,
        people: People,
        chat: Chat,
        clock: Clock,
        templates: Templates,
        public_url: str,
        *,
        pages: Sequence[ConsolePages] = (),
        names: Mapping[str, str] | None = None,
        addressed: Callable[[Handler], Handler] | None = None,
        why_refused: WhyRefused = never_refused,
    ) -> None:
        self._links = links
        self._sessions = sessions
        self._repo = repository
        self.audit = audit
        self._roles = roles
        self._people = people
        self._chat = chat
        self._clock = clock
        self.templates = templates
        self._public_url = public_url.rstrip("/")
        self._secure = self._public_url.startswith("https://")
        self._pages = tuple(pages)
        # Names known before copbot meets their owners (the playground's personas).
        self._names = dict(names or {})
        # With the playground on, anyone at its page may act as anyone: every console
        # route then answers only requests addressed to copbot itself, so that a page on
        # another site (DNS rebinding) can't sign in as a persona and read the archive.
        self._addressed = addressed
        self._why_refused = why_refused
        static = resources.files("bot.console").joinpath("static")
        self._stylesheet = static.joinpath("console.css").read_text()
        self._icon = static.joinpath("favicon.svg").read_text()

    def register(self, registry: Registry) -> None:
        registry.keeps(
            PersonalData(
                "console sign-ins",
                ("console_links_used.identity", "console_sessions.identity"),
                erase=self._repo.forget,
                on_opt_out=False,
                expire=self._repo.purge_before,
                notice="If you are a facilitator or an admin, your sign-ins to the web console.",
            )
        )
        registry.keeps(
            PersonalData(
                "audit trail",
                ("audit.done_by",),
                kept_because=(
                    "admins answer for access with it: who signed in, exported, changed "
                    "roles or erased"
                ),
                notice=(
                    "If you are a facilitator or an admin, a record of what you did with that "
                    "role: signing in to the console and out, exports, role changes and erasures, "
                    "and events and schedules changed in the console."
                ),
            )
        )
        registry.verb(
            "console",
            "Get a link to sign in to the web console, by direct message",
            self.console,
            role=Role.FACILITATOR,
            details=(
                "The console has pages for the archive, feedback, events, prompts and "
                "participation (and, for admins, people, exports and the audit trail). The "
                "link works once, for 10 minutes; you stay signed in for 8 hours."
            ),
        )
        routes = [
            web.get("/console/static/console.css", self.stylesheet),
            web.get("/console/static/favicon.svg", self.icon),
            web.get("/console/sign-in", self.how_to_sign_in),
            web.get("/console/sign-in/{token}", _unreferred(self.sign_in_page)),
            web.post("/console/sign-in/{token}", _unreferred(self.sign_in)),
            web.post("/console/sign-out", self.guarded(self.sign_out)),
            web.get("/console", self.guarded(self.home)),
        ]
        for pages in self._pages:
            routes += pages.routes(self)
        # Last, so it answers only what no page does: with the console's headers and words.
        routes.append(web.route("*", "/console/{rest:.*}", self.not_found))
        routes = [
            web.route(r.method, r.path, self._failsafe(r.handler), **r.kwargs) for r in routes
        ]
        if (addressed := self._addressed) is not None:
            routes = [web.route(r.method, r.path, addressed(r.handler), **r.kwargs) for r in routes]
        registry.route(*routes)

    # -- links ----------------------------------------------------------------------------

    def link(self, identity: str, base_url: str = "", workspace: str = "") -> str:
        base = (base_url or self._public_url).rstrip("/")
        return f"{base}/console/sign-in/{self._links.issue(identity, workspace)}"

    async def console(self, ix: Interaction, args: Args) -> None:
        if args:
            raise UsageError("`console` takes nothing after it.")
        if not self._public_url:
            raise CommandError(
                "I can't make a sign-in link because COPBOT_PUBLIC_URL isn't set; an admin "
                "on the server can run `copbot console-link --user IDENTITY`."
            )
        minutes = int(LINK_LIFETIME.total_seconds() // 60)
        # The console then reads the archive of the workspace (or tenant) asked from.
        link = self.link(ix.user.identity, workspace=ix.origin.channel.workspace)
        await ix.send_privately(
            OutgoingMessage.of(
                f"Here's your link to the copbot console: [sign in]({link})",
                f"It works once, for {minutes} minutes, and only for you: please don't share "
                "it. You'll stay signed in for 8 hours, or until you sign out.",
            ),
            "I've sent you a sign-in link for the console by direct message.",
        )

    # -- signing in and out ---------------------------------------------------------------

    async def stylesheet(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(text=self._stylesheet, content_type="text/css")
        response.headers["Cache-Control"] = "max-age=3600"
        return secured(response)

    async def icon(self, request: web.Request) -> web.StreamResponse:
        # Without one, a browser asks for /favicon.ico on every page: a 404 each time.
        response = web.Response(text=self._icon, content_type="image/svg+xml")
        response.headers["Cache-Control"] = "max-age=3600"
        return secured(response)

    async def how_to_sign_in(self, request: web.Request) -> web.StreamResponse:
        return self.templates.render("signed_out.html", reason="")

    async def sign_in_page(self, request: web.Request) -> web.StreamResponse:
        # Only shows a button: link checkers in chat and mail open links before people do.
        try:
            link = await self._links.check(request.match_info["token"])
        except LinkRefused as refused:
            return self._link_refused(refused.problem)
        if await self._roles.role_of(link.identity) < Role.FACILITATOR:
            return self.forbidden(f"{NEEDS_ROLE} Your role is staff, so there's nothing here.")
        name = await self._name(link.identity)
        return self.templates.render("sign_in.html", name=name)

    async def sign_in(self, request: web.Request) -> web.StreamResponse:
        if not same_origin(request):
            return self.forbidden("This sign-in came from another site, so it was refused.")
        try:
            link = await self._links.redeem(request.match_info["token"])
        except LinkRefused as refused:
            return self._link_refused(refused.problem)
        return await self.start(link.identity, "signed in", link.workspace)

    async def start(self, identity: str, how: str, workspace: str = "") -> web.StreamResponse:
        """Sign a facilitator or admin in: a new session, its cookie, and on to the console."""
        if await self._roles.role_of(identity) < Role.FACILITATOR:
            return self.forbidden(f"{NEEDS_ROLE} Your role is staff, so there's nothing here.")
        _, cookie = await self._sessions.open(identity, workspace)
        await self.audit.record(identity, how)
        response = web.Response(status=303, headers={"Location": "/console"})
        set_cookie(
            response,
            cookie,
            secure=self._secure,
            max_age=int(SESSION_LIFETIME.total_seconds()),
        )
        secured(response)
        return response

    async def sign_out(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        await self._sessions.end(visitor.session)
        await self.audit.record(visitor.identity, "signed out")
        response = self.templates.render("signed_out.html", reason="signed out")
        clear_cookie(response)
        return response

    def _link_refused(self, problem: LinkProblem) -> web.StreamResponse:
        status = 404 if problem is LinkProblem.NOT_GENUINE else 410
        return self.templates.render("link_refused.html", status=status, problem=problem.value)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        return self.templates.render(
            "refused.html",
            status=404,
            heading="There's no such page",
            message="Check the address, or start from the console's home page: /console.",
        )

    def forbidden(self, message: str) -> web.StreamResponse:
        return self.templates.render("refused.html", status=403, message=message)

    # -- every page -------------------------------------------------------------------------

    def _failsafe(self, handler: Handler) -> Handler:
        """``handler``, with a fault of copbot's answered by a page in words under the
        console's headers, not aiohttp's bare text (which carries none of them); logged by
        type and place, never its message (it may quote someone)."""

        async def failsafe(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except web.HTTPException:
                raise
            except Exception as error:
                if request.writer.output_size > 0:  # a download under way: it stops there
                    raise
                log.error("a console page failed: %s", stack_only(error))
                reason = self._why_refused(error)
                if reason is not None and request.method == "POST":
                    # Said as the playground says it: why, and that the form can be sent again.
                    return self.templates.render(
                        "refused.html",
                        status=503,
                        heading="Sorry, copbot couldn't save that",
                        message=unwritable(reason),
                    )
                return self.templates.render(
                    "refused.html", status=500, heading="Sorry, something went wrong", message=BROKE
                )

        return failsafe

    async def home(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return self.templates.render("home.html", visitor=visitor)

    async def _name(self, identity: str) -> str:
        return self._names.get(identity) or await self._people.name(identity)

    def guarded(self, page: Page, need: Role = Role.FACILITATOR) -> Handler:
        """``page`` for people signed in with at least ``need``; everyone else is told why
        not, and is shown nothing else."""

        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                checked = await self._visitor(request)
                if isinstance(checked, web.StreamResponse):
                    return checked
                if checked.role < need:
                    return self.templates.render(
                        "refused.html",
                        status=403,
                        visitor=checked,
                        message=f"This page is for {need.label}s.",
                    )
                if request.method == "POST":
                    form = await read_form(request)
                    if not same_origin(request) or not self._sessions.csrf_ok(
                        checked.session, form_value(form, "csrf", 500)
                    ):
                        log.info("a console form without its token was refused")
                        return self.templates.render(
                            "refused.html",
                            status=403,
                            visitor=checked,
                            message=(
                                "That form had expired, so nothing was changed. Go back, "
                                "reload the page and try again."
                            ),
                        )
                return secured(await page(request, checked))
            except web.HTTPException as e:
                secured(e)
                raise

        return handler

    async def _visitor(self, request: web.Request) -> Visitor | web.StreamResponse:
        session = await self._sessions.current(request.cookies.get(COOKIE))
        if session is None:
            return self.templates.render("signed_out.html", status=401, reason="")
        role = await self._roles.role_of(session.identity)
        if role < Role.FACILITATOR:
            # Losing the role ends every session at once, not just this request.
            await self._sessions.end_all(session.identity)
            await self.audit.record(session.identity, "console session ended", "role lost")
            response = self.templates.render("signed_out.html", status=403, reason="role")
            clear_cookie(response)
            return response
        platform, ident = split_identity(session.identity)
        user = UserRef(platform, ident, await self._name(session.identity))
        return Visitor(session, user, role, self._sessions.csrf_token(session))


def _unreferred(handler: Handler) -> Handler:
    async def unreferred(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as e:
            e.headers.update(ORIGIN_ONLY)
            raise
        response.headers.update(ORIGIN_ONLY)
        return response

    return unreferred
