"""The plumbing every fake Slack method shares: argument access and the method registry.

Slack takes arguments as query string, form fields or a JSON body, and form-encoded
structured arguments (``blocks``, ``metadata``, ``view``) arrive as JSON strings. ``Params``
hides that so handlers read arguments one way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.slack_state import SlackError, Workspace


class Params:
    """Typed access to a call's merged arguments, raising Slack's error codes."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def has(self, name: str) -> bool:
        """True when the argument is present and not empty."""
        value = self.raw.get(name)
        return value not in (None, "", [], {})

    def text(
        self, name: str, *, required: bool = True, error: str = "missing_argument"
    ) -> str:
        """A string argument; a missing required one raises ``error``."""
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                raise SlackError(error, arg=name)
            return ""
        return (
            value
            if isinstance(value, str)
            else json.dumps(value)
            if isinstance(value, (dict, list))
            else str(value)
        )

    def flag(self, name: str, default: bool = False) -> bool:
        """Slack booleans: ``true``/``1`` (form) or JSON ``true``."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in {"1", "true", "yes"}

    def integer(self, name: str, default: int) -> int:
        """An integer argument; garbage raises ``invalid_arguments``."""
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", arg=name) from None

    def structured(self, name: str, *, error: str = "invalid_arguments") -> Any:
        """A JSON argument that may arrive decoded (JSON body) or as a string (form body)."""
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, (list, dict)):
            return value
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            raise SlackError(error, arg=name) from None

    def csv(self, name: str) -> list[str]:
        """A comma-separated list argument (``users=U1,U2``)."""
        value = self.raw.get(name)
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class Ctx:
    """What a handler gets: the workspace, the call's arguments and the server's URL."""

    ws: Workspace
    params: Params
    base_url: str


MethodHandler = Callable[[Ctx], dict[str, Any]]
REGISTRY: dict[str, MethodHandler] = {}


def method(name: str) -> Callable[[MethodHandler], MethodHandler]:
    """Register a handler under a Slack method name."""

    def register(handler: MethodHandler) -> MethodHandler:
        REGISTRY[name] = handler
        return handler

    return register
