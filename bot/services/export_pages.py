"""The pages an export link shows in a browser: the landing page with its Download
button, and a link that can't be used, or a fault before the file begins, said in words."""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.console.web import HEADERS, ORIGIN_ONLY
from bot.errors import WhyRefused
from bot.logs import stack_only

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The page can't tell which platform the link was asked for on: it names each way to ask.
ASK_AGAIN = (
    "Ask copbot for a new one: /cop export in Slack, or export in your chat with copbot in "
    "Teams or the playground."
)
PAGE = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · copbot</title>
<link rel="icon" href="/console/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/console/static/console.css">
</head><body><main>
<h1>{title}</h1>
<p>{words}</p>{form}
</main></body></html>
"""
LANDING = PAGE.format(
    title="Your export of the archive is ready",
    words="It holds people's words: keep the file somewhere safe. The download works once.",
    form='\n<form method="post"><button type="submit" class="primary">Download</button></form>',
)
USED = "This link has been used already."
NOT_NOW = (
    "copbot couldn't give you the file just now{because}. Please try the link again in a "
    "minute; if it says it has been used, ask copbot for a new one. If it keeps happening, "
    "let your copbot admin know."
)
PAGE_HEADERS = HEADERS | ORIGIN_ONLY


def refusal_page(
    refused: type[web.HTTPException], title: str, words: str = ""
) -> web.HTTPException:
    """A link that can't be used, said as a page: people open these links in a browser."""
    page = PAGE.format(title=html.escape(title), words=html.escape(words), form="")
    return refused(text=page, content_type="text/html", headers=PAGE_HEADERS)


def worded(handler: Handler, why_refused: WhyRefused) -> Handler:
    """``handler``, whose faults before the file begins are a page in words (a browser
    shows it), as the console's are: why, when storage refused a write, and what to do."""

    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as error:
            if request.writer.output_size > 0:  # the file under way: it stops there
                raise
            log.error("an export link failed: %s", stack_only(error))
            reason = why_refused(error)
            because = f", because its database can't be written ({reason})" if reason else ""
            refused = web.HTTPServiceUnavailable if reason else web.HTTPInternalServerError
            raise refusal_page(
                refused, "Sorry, copbot couldn't do that", NOT_NOW.format(because=because)
            ) from None

    return answered
