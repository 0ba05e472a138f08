"""
Codecs: turn application values into frames and back.

Set a connection's C{codec} setting (for example to L{jsonCodec}) and its
payload frames become values: C{publish(value, tag)}, C{push(value)},
C{sendMsg(*values)}..., and the callbacks and C{receive()} get decoded
values.  Routing frames (topics, identities, request ids) stay bytes.
A frame that fails to decode is logged and its message dropped.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

__all__ = ["Codec", "JsonCodec", "checkCodec", "jsonCodec"]


@runtime_checkable
class Codec(Protocol):
    """Encodes one value into one frame, and decodes it back."""

    def encode(self, value: Any) -> bytes:
        """Return the frame for C{value}; raise for a value it cannot encode."""

    def decode(self, data: bytes) -> Any:
        """Return the value in a frame; raise for a frame it cannot decode."""


class JsonCodec:
    """JSON as compact UTF-8."""

    def encode(self, value: Any) -> bytes:
        """
        Encode C{value} as JSON.

        @raise TypeError: for a value JSON cannot represent.
        """
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, data: bytes) -> Any:
        """
        Decode a JSON frame.

        @raise ValueError: for a frame that is not UTF-8 JSON.
        """
        return json.loads(data)

    def __repr__(self) -> str:
        return "jsonCodec"


jsonCodec = JsonCodec()
"""The JSON codec."""


def checkCodec(name: str, value: object) -> Codec | None:
    """Accept None or an object with callable C{encode} and C{decode}."""
    if value is None or isinstance(value, Codec):
        # runtime_checkable only checks that the names exist.
        if value is None or (callable(value.encode) and callable(value.decode)):
            return value
    raise TypeError(
        f"{name} must be None or an object with encode(value) -> bytes and "
        f"decode(bytes) methods (such as txzmq.jsonCodec), not {value!r}"
    )
