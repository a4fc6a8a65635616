"""Webhook fields a sender may make longer than Firebreak keeps: cut, or left out, never refused.

Neither Alertmanager nor PagerDuty sends again a notification answered 4xx, so refusing a
long title, note or link would lose the incident it carries. Text is cut to what is kept; a
link is left out whole (a cut URL leads nowhere); an identifier too long to be one of ours
is read as absent. Used as ``Annotated[str, cut(N)]`` on the pydantic models.
"""

from __future__ import annotations

from pydantic import BeforeValidator


def cut(limit: int, *, marker: str = "") -> BeforeValidator:
    """Text longer than ``limit`` characters keeps its first ``limit``, then ``marker``."""

    def shorten(value: object) -> object:
        return value[:limit] + marker if isinstance(value, str) and len(value) > limit else value

    return BeforeValidator(shorten)


def left_out(limit: int, *, instead: object) -> BeforeValidator:
    """A value longer than ``limit`` characters is read as ``instead`` (a link, a key)."""

    def drop(value: object) -> object:
        return instead if isinstance(value, str) and len(value) > limit else value

    return BeforeValidator(drop)
