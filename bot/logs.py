"""Logging without people's words: an exception's message may quote what someone wrote."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import EofStream


def stack_only(error: BaseException) -> str:
    """Where an error happened (its type and stack), without its message."""
    stack = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"{type(error).__name__} at\n{stack}"


SERVER_LOG = "aiohttp.server"


class ServerErrors(logging.Filter):
    """aiohttp's "Error handling request" records, without the exception's message (the
    parser quotes the offending header) and, for a client's fault, in one line.

    A malformed request or a client gone mid-request is the internet being the internet: one
    WARNING line naming the kind of error. Anything else is copbot's own bug: its stack, still
    without the message.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        error = record.exc_info[1]
        message = record.getMessage()
        if isinstance(error, (HttpProcessingError, ConnectionError, EofStream)):
            if record.levelno > logging.WARNING:  # aiohttp logs some at DEBUG already
                record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "%s: %s", (message, type(error).__name__)
        else:
            record.msg, record.args = "%s: %s", (message, stack_only(error))
        record.exc_info, record.exc_text = None, None
        return True


def guard_server_log() -> None:
    """Install ``ServerErrors`` on aiohttp's server log, once per process."""
    logger = logging.getLogger(SERVER_LOG)
    if not any(isinstance(f, ServerErrors) for f in logger.filters):
        logger.addFilter(ServerErrors())


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class TextLines(logging.Formatter):
    """Lines for people reading a terminal or journald: an error's type and stack under its
    line, never its message, whichever logger (copbot's or a library's) logged it."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        # Another handler's formatter may have cached the error's text, message and all.
        cached, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: Any) -> str:
        error = ei[1]
        return stack_only(error) if isinstance(error, BaseException) else "an error"


class JsonLines(logging.Formatter):
    """One JSON object a line, for log collectors: time (UTC), level, logger, message, and
    where an error happened (its stack, never its message: it may quote someone)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = stack_only(record.exc_info[1])
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str) -> None:
    """Log INFO and above to standard error, as text or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if log_format == "json" else TextLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
