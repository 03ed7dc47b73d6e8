"""What every console response shares: templates escaped by Jinja2, the security headers,
the session cookie, and the checks on who is asking."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from bot.command_words import CommandWords
from bot.console.records import ConsoleSession
from bot.events import PLAN_LIMITS
from bot.model import Role, UserRef
from bot.timefmt import for_people

if TYPE_CHECKING:
    import jinja2

COOKIE = "copbot_console"
HEADERS = {
    # No script at all, inline or not; styles only from the one stylesheet.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


# For pages whose address holds a one-time token (a sign-in or an export link): a Referer
# is the origin alone, so not even copbot's own stylesheet request names the link, and no
# log of Referer headers (a proxy's, a firewall's) holds one that still works. Not
# "no-referrer": browsers then send the page's form as from origin "null", which the
# check against other sites' forms refuses.
ORIGIN_ONLY = {"Referrer-Policy": "strict-origin"}


@dataclass(frozen=True)
class Visitor:
    """Someone signed in, as checked for this request."""

    session: ConsoleSession
    user: UserRef
    role: Role
    csrf: str

    @property
    def identity(self) -> str:
        return self.session.identity

    @property
    def is_admin(self) -> bool:
        return self.role >= Role.ADMIN


Page = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]


class Templates:
    """The console's pages. Jinja2 is imported and its environment built on the first page
    rendered, not at start: most of the time nobody has the console open."""

    def __init__(self, timezone: ZoneInfo, words: CommandWords | None = None) -> None:
        self._timezone = timezone
        self.words = words or CommandWords()
        self._loaded: jinja2.Environment | None = None

    @property
    def _env(self) -> jinja2.Environment:
        if self._loaded is None:
            import jinja2

            env = jinja2.Environment(
                loader=jinja2.PackageLoader("bot.console", "templates"),
                autoescape=True,  # people's words are always escaped
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            timezone = self._timezone
            env.filters["when"] = lambda moment: _when(moment, timezone)
            env.filters["day"] = lambda moment: _when(moment, timezone, time=False)
            env.filters["said"] = _said
            env.globals["command"] = lambda command: _said(self.words.everywhere(command))
            env.globals["teams_name"] = self.words.teams_name
            env.globals["plan_limits"] = PLAN_LIMITS
            self._loaded = env
        return self._loaded

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        visitor: Visitor | None = None,
        **context: Any,
    ) -> web.Response:
        html = self._env.get_template(template).render(visitor=visitor, **context)
        response = web.Response(text=html, content_type="text/html", status=status)
        secured(response)
        return response


def secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def same_origin(request: web.Request) -> bool:
    """A POST from a page of another site is refused, whatever it carries. Browsers say
    where a request came from in ``Sec-Fetch-Site`` or ``Origin``."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.host.lower()


def set_cookie(response: web.StreamResponse, value: str, *, secure: bool, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=max_age,
        path="/console",
        httponly=True,
        samesite="Strict",
        secure=secure,
    )


def clear_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console")


UNREADABLE = "That form couldn't be read, so nothing was changed. Go back and try again."


async def read_form(request: web.Request) -> Mapping[str, Any]:
    """The fields of a form sent to the console. A body that is no form in a known
    encoding (bytes that aren't UTF-8, a bogus charset, broken multipart) is refused with
    400; one past the size limit, by aiohttp with 413."""
    try:
        return await request.post()
    except (ValueError, LookupError, HttpProcessingError):  # broken bytes or parts
        raise web.HTTPBadRequest(text=UNREADABLE) from None


def form_value(form: Mapping[str, Any], name: str, limit: int = 200) -> str:
    """A field's text, trimmed. Longer than ``limit``, the form is refused (400), never
    cut short: a shortened identity could be someone else's."""
    value = form.get(name, "")
    if not isinstance(value, str):
        return ""
    value = value.strip()
    if len(value) > limit:
        raise web.HTTPBadRequest(
            text=f"The '{name[:40]}' field is longer than {limit:,} characters, so nothing"
            " was changed. Go back, shorten it and try again."
        )
    return value


def _said(text: str) -> Any:
    """An answer copbot also gives in chat, for a page: escaped, its `commands` as code
    rather than with chat's backticks. Never HTML, even marked safe: escape() would pass
    that through as it is."""
    import markupsafe  # with jinja2: loaded when a page is first rendered

    escaped = str(markupsafe.escape(str(text)))
    return markupsafe.Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def _when(moment: datetime, tz: ZoneInfo, time: bool = True) -> str:
    return for_people(moment, tz, time=time)
