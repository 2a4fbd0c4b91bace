"""JSON from outside (request bodies, socket frames): every way it can be bad is a DecodeError.

msgspec reports malformed JSON as `msgspec.DecodeError`, but a document nested deeper than the
interpreter's stack allows as `RecursionError`, and invalid UTF-8 inside a string as
`UnicodeDecodeError`. Left alone, a few hundred bytes of either were a 500 on any endpoint and
a dead socket; here they become the client's mistake, like any other bad JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

T = TypeVar("T")

# What msgspec raises for bad input besides DecodeError.
DECODE_FAILURES = (RecursionError, UnicodeDecodeError)


def reason(exc: BaseException) -> str:
    """What was wrong with the document, in words for the client."""
    if isinstance(exc, RecursionError):
        return "JSON is nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return "JSON is not valid UTF-8"
    return str(exc)


def guarded(decode: Callable[[bytes | str], T]) -> Callable[[bytes | str], T]:
    """`decode` (a msgspec decoder's) raising only `msgspec.DecodeError` for bad input."""

    def decode_untrusted(data: bytes | str) -> T:
        try:
            return decode(data)
        except DECODE_FAILURES as exc:
            raise msgspec.DecodeError(reason(exc)) from None

    return decode_untrusted
