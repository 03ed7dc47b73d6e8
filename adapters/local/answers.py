"""How the playground's API answers: the headers of its pages, and a fault of copbot's (a
database that can't be written, say) in words the page shows, as every other refusal is,
instead of aiohttp's bare text; logged by type and place, never its message (it may quote
someone)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.errors import WhyRefused, unwritable
from bot.logs import stack_only

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Anyone who opens the playground acts as anyone: no other site may frame it (to click for
# them), and its page runs only its own script, which talks only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# As the console says it: what happened to what they did, and what to do next.
BROKE = (
    "Something went wrong on copbot's side, so that wasn't done. Please try again in a "
    "minute; if it keeps happening, let your copbot admin know."
)


def failsafe(handler: Handler, why_refused: WhyRefused) -> Handler:
    """``handler``, with a fault of copbot's answered in words."""

    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as error:
            if request.writer.output_size > 0:  # a page's event stream under way: it ends
                raise
            log.error("a playground request failed: %s", stack_only(error))
            reason = why_refused(error)
            words = BROKE if reason is None else unwritable(reason)
            return web.json_response(
                {"error": words}, status=500 if reason is None else 503, headers=PAGE_HEADERS
            )

    return answered


def taken_not_shown(
    error: Exception, what: str, show: str, why_refused: WhyRefused
) -> web.StreamResponse:
    """copbot took ``what`` in, and then the playground's own file refused it: "nothing
    was changed" would be untrue. Sending it again is harmless: copbot takes the same
    words again as they are, and a deletion it has had already is passed over."""
    log.error("a playground %s copbot took wasn't shown: %s", what, stack_only(error))
    reason = why_refused(error)
    because = f", because its own file can't be written just now ({reason})" if reason else ""
    words = (
        f"copbot has taken your {what}, but the playground couldn't {show}{because}. "
        "Sending it again is harmless: please try again in a minute; if it keeps "
        "happening, let your copbot admin know."
    )
    return web.json_response(
        {"error": words}, status=500 if reason is None else 503, headers=PAGE_HEADERS
    )
