"""structlog set-up: JSON lines in production, readable lines on a terminal.

Log lines carry ids, routes, statuses and timings, never message contents, credentials,
tokens, query strings or IP addresses (README, Operations: What is logged).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

import structlog

# Libraries that log a line per outgoing request at INFO, with the full URL (httpx prints
# Gladia's address; a websocket URL can carry a session token in its query).
_CHATTY_LIBRARIES = ("httpx", "httpcore", "websockets", "aiohttp")

# What a library's line must not carry: a query string after a path, an IPv4 or IPv6 address.
_QUERY = re.compile(r"(?<=[\w/])\?[^\s\"'<>]+")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
    r"|(?<![\w:.])(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?::"
    r"(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![\w:])"
)


def redact(text: str) -> str:
    """`text` without query strings and IP addresses: the last line of defence for messages
    written by libraries, whose wording moot does not control."""
    text = _QUERY.sub("", text)
    text = _IPV4.sub("<ip>", text)
    return _IPV6.sub("<ip>", text)


def _redact_library_line(_: Any, __: str, event_dict: structlog.types.EventDict) -> Any:
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = redact(event)
    return event_dict


class _ServerLineFilter(logging.Filter):
    """Drops uvicorn's lines that name a client or a listen address: its WebSocket access line
    (`IP:port - "WebSocket /path?query" [accepted]`) and its start-up banner. moot writes its
    own `websocket` and `moot_listening` lines instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        return not (
            template.startswith('%s - "WebSocket ') or template.startswith("Uvicorn running on")
        )


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        # Plain tracebacks: rich ones print local variables, which can hold credentials.
        structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    # Route the standard library (uvicorn, asyncpg, libraries) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _redact_library_line],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # uvicorn's access log would print client addresses; moot logs requests itself.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers[:] = []
        server_logger.propagate = True
        if not any(isinstance(f, _ServerLineFilter) for f in server_logger.filters):
            server_logger.addFilter(_ServerLineFilter())
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
