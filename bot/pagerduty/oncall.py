"""``OncallDirectory`` answered by PagerDuty's ``GET /oncalls``."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.pagerduty.client import PagerDutyError, RestClient, delivery_error, ok
from bot.service.oncall import OnCall

#: PagerDuty's largest page; an escalation policy has one entry per level and schedule.
PAGE_SIZE = 100
#: Pages read at most (a bound, never reached by a real policy).
MAX_PAGES = 20


class PagerDutyOncallDirectory:
    def __init__(self, rest: RestClient) -> None:
        self._rest = rest

    async def on_call(self, escalation_policy_id: str) -> list[OnCall]:
        """Raises DeliveryError: retryable for a 429, 5xx or network failure, not for a
        refusal (a deleted policy, a token without access) that asking again cannot change."""
        try:
            return await asyncio.to_thread(self._lookup, escalation_policy_id)
        except PagerDutyError as error:
            raise delivery_error(error) from error

    def _lookup(self, escalation_policy_id: str) -> list[OnCall]:
        oncalls: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):  # classic pagination: limit (at most 100), offset, more
            params: dict[str, str | int | list[str]] = {
                "escalation_policy_ids[]": [escalation_policy_id], "include[]": ["users"], "limit": PAGE_SIZE, "offset": len(oncalls),
            }
            page = ok(self._rest.get("/oncalls", params=params), "listing on-calls").json()
            found = page.get("oncalls") or []
            oncalls.extend(found)
            if not page.get("more") or not found:
                break
        oncalls.sort(key=lambda item: item.get("escalation_level") or 0)
        people: list[OnCall] = []
        seen: set[str] = set()
        for item in oncalls:
            user = item.get("user") or {}
            email = user.get("email")
            if not email and user.get("id"):  # not expanded: ask for the user
                user = ok(self._rest.get(f"/users/{user['id']}"), "reading a user").json().get("user", user)
                email = user.get("email")
            if not email or email in seen:
                continue
            seen.add(email)
            people.append(OnCall(name=user.get("name") or user.get("summary") or email, email=email))
        return people
