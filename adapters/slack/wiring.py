"""The Slack SDKs, set up the way copbot needs them.

- The Web API client retries a 429 after Slack's Retry-After, and nothing else: a 429 is the
  one failure after which Slack has certainly not posted, so retrying cannot post twice.
- The bolt app answers Slack only after the listener returns (``process_before_response``),
  which is after the event is committed to the inbox: an acknowledged event is never lost.
- Logs never carry a token, and never the body of a request that failed its signature check.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import RetryObserver, unobserved_retry

Listener = Callable[[dict[str, Any], AsyncAck], Awaitable[None]]

API_LOG = "adapters.slack.api"
BOLT_LOG = "adapters.slack.bolt"
RATE_LIMIT_RETRIES = 2

_SECRETS = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+|(?<=ticket=)[^&'\"\s]+")
REJECTED = "Refused a request whose Slack signature did not check out (its body is not logged)"
UNHANDLED = "bolt has no listener for a Slack request of this kind (its fields are not logged)"


# The SDKs' DEBUG lines that carry whole payloads: who acted, what they wrote, and for an
# anonymous form its answers beside its author (Socket Mode logs every message received).
# Each keeps its head (method and URL, status, message type) and loses the rest.
_PAYLOAD_LINES = (
    (re.compile(r"^(Sending a request - url: \S+ \S+),.*", re.S), r"\1 (arguments not logged)"),
    (
        re.compile(r"^Received the following response - (status: \d+),.*", re.S),
        r"Received a response - \1 (body not logged)",
    ),
    (
        re.compile(r"^Received message \((type: \w+),.*", re.S),
        r"Received a Socket Mode message (\1; its data is not logged)",
    ),
    (re.compile(r"^Sending a message: .*", re.S), "Sending a Socket Mode message (not logged)"),
    (re.compile(r"^(Responding with status: \d+) body: .*", re.S), r"\1 (body not logged)"),
)


class Redact(logging.Filter):
    """Scrubs tokens from the SDKs' log lines, request values from bolt's, and payloads
    from both.

    bolt logs a request that fails verification with its whole body at INFO, an unhandled
    request with its fields and sample code, and a failed listener or middleware with the
    exception's message (which may quote the request) and traceback. Those become a fixed
    sentence, or the sentence's start and the error's type and stack. At DEBUG the Web API
    client logs every request and response, and the Socket Mode client every message, whole:
    those keep only their head (see ``_PAYLOAD_LINES``).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.endswith(".RequestVerification"):
            record.msg, record.args = REJECTED, ()
            return True
        message = record.getMessage()
        if message.startswith("As you gave `client` as well"):
            # bolt reads SLACK_BOT_TOKEN itself, and says the client copbot gives it wins:
            # true, and worth nothing to whoever reads the log at every start.
            return False
        for pattern, head in _PAYLOAD_LINES:
            if pattern.match(message):
                record.msg, record.args = _SECRETS.sub("(redacted)", pattern.sub(head, message)), ()
                return True
        if message.startswith("Unhandled request"):
            record.msg, record.args = UNHANDLED, ()
            return True
        if record.exc_info and (error := record.exc_info[1]) is not None:
            head = _SECRETS.sub("(redacted)", message.split(" (error:", 1)[0])
            stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
            record.msg, record.args = "%s: %s at\n%s", (head, type(error).__name__, stack)
            record.exc_info, record.exc_text = None, None
            return True
        scrubbed = _SECRETS.sub("(redacted)", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def _logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name)
    if not any(isinstance(f, Redact) for f in logger.filters):
        logger.addFilter(Redact())
    return logger


class CountedRateLimitRetries(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (after Retry-After), telling the observer of each retry."""

    def __init__(self, observe: RetryObserver, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._observe = observe

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            self._observe("slack", str(response.status_code))
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def make_client(
    token: str, api_url: str = "", observe_retry: RetryObserver = unobserved_retry
) -> AsyncWebClient:
    kwargs: dict[str, Any] = {"base_url": api_url} if api_url else {}
    retries: list[AsyncRetryHandler] = [
        CountedRateLimitRetries(observe_retry, max_retry_count=RATE_LIMIT_RETRIES)
    ]
    return AsyncWebClient(token=token, logger=_logger(API_LOG), retry_handlers=retries, **kwargs)


def make_bolt(
    client: AsyncWebClient,
    signing_secret: str,
    *,
    on_event: Listener,
    on_command: Listener,
    on_action: Listener,
    on_view: Listener,
) -> AsyncApp:
    # bolt hands its own loggers the base logger's filters, so Redact reaches them too.
    app = AsyncApp(
        name="copbot",
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        logger=_logger(BOLT_LOG),
        # Middleware for what copbot does itself or doesn't use, each a cost on every
        # request: translate.py drops copbot's own messages; there are no assistant
        # threads, workflow functions, or listeners asking for say()/set_status().
        ignoring_self_events_enabled=False,
        ignoring_self_assistant_message_events_enabled=False,
        attaching_function_token_enabled=False,
        attaching_conversation_kwargs_enabled=False,
    )
    anything = re.compile(".*")
    app.event(anything)(on_event)
    app.command(anything)(on_command)
    app.block_action(anything)(on_action)
    app.view_submission(anything)(on_view)
    return app
