"""User-group handles (``@oncall-primary``) to ids, so an escalation notifies the group.

Slack notifies a user group only through its id (``<!subteam^S123>``); the handle people
write in ``FIREBREAK_DEFAULT_ESCALATION`` or a playbook is plain text to Slack. One
``usergroups.list`` call (scope ``usergroups:read``, rate tier 2) names every group of the
workspace, so the answer is cached and shared by concurrent deliveries. A handle Slack does
not know is logged at warning once per handle (an escalation that pings nobody must be found
before the night it matters) and stays text in the post, which says it could not be resolved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from bot.chat.slack.gateway import SlackCallFailed, SlackGateway
from bot.chat.slack.mentions import is_group_id
from bot.chat.slack.single_flight import SingleFlight

log = logging.getLogger(__name__)

#: Seconds a usergroups.list answer is trusted; a handle it lacks is asked again after this.
CACHE_SECONDS = 300.0


def group_handles(details: Iterable[Mapping[str, Any]]) -> list[str]:
    """The user-group targets given by handle (not by id), as written without the ``@``."""
    handles = []
    for detail in details:
        if str(detail.get("kind", "")) != "slack_group":
            continue
        handle = str(detail.get("value", "")).strip().lstrip("@")
        if handle and not is_group_id(handle) and handle not in handles:
            handles.append(handle)
    return handles


class UserGroupHandles:
    """handle → id from ``usergroups.list``, cached for :data:`CACHE_SECONDS`."""

    def __init__(self, gateway: SlackGateway, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._gateway = gateway
        self._monotonic = monotonic
        self._ids: dict[str, str] = {}
        self._loaded_at: float | None = None
        self._warned: set[str] = set()
        self.unavailable: str | None = None  # why Slack would not list groups (e.g. missing_scope)
        self._flight: SingleFlight[None] = SingleFlight()

    async def resolve(self, handles: Iterable[str]) -> tuple[dict[str, str], list[str]]:
        """(handle → group id for the known ones, the handles Slack does not know)."""
        wanted = list(handles)
        if not wanted:
            return {}, []
        await self._refresh()
        known = {handle: self._ids[handle.lower()] for handle in wanted if handle.lower() in self._ids}
        unknown = [handle for handle in wanted if handle not in known]
        for handle in unknown:
            if handle not in self._warned:
                self._warned.add(handle)
                log.warning(
                    "escalation target @%s is not a Slack user group handle; it is posted as text and notifies nobody",
                    handle,
                    extra={"handle": handle, "reason": self.unavailable or "no such handle"},
                )
        return known, unknown

    async def _refresh(self) -> None:
        if self._loaded_at is not None and self._monotonic() - self._loaded_at < CACHE_SECONDS:
            return
        await self._flight.run("usergroups.list", self._load)

    async def _load(self) -> None:
        now = self._monotonic()
        try:
            answer = await self._gateway.call("usergroups.list")
        except SlackCallFailed as error:
            # A refusal (missing_scope, not_allowed_token_type…) will not heal by retrying the post.
            self.unavailable = error.code
            log.warning("usergroups.list failed; user-group handles stay text", extra={"error": error.code})
            self._loaded_at = now
            return
        self.unavailable = None
        self._ids = {
            str(group["handle"]).lower(): str(group["id"])
            for group in answer.get("usergroups") or []
            if isinstance(group, dict) and group.get("handle") and group.get("id") and not group.get("date_delete")
        }
        self._loaded_at = now
