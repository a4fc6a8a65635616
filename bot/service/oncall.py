"""The on-call port: who is on call for an escalation policy.

Chat adapters ask it whom to invite into an incident channel; PagerDuty answers today, and
another scheduler (Opsgenie, a static rota) can answer tomorrow behind the same protocol.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class OnCall(NamedTuple):
    """One person on call; ``email`` is how chat adapters find their chat account."""

    name: str
    email: str


class OncallDirectory(Protocol):
    async def on_call(self, escalation_policy_id: str) -> list[OnCall]:
        """People on call now for the policy, most immediate level first, no duplicates.

        A lookup that fails raises ``bot.delivery.message.DeliveryError``, retryable or not."""
        ...


class NoOncallDirectory:
    """Used when no on-call system is configured: nobody is known to be on call."""

    async def on_call(self, escalation_policy_id: str) -> list[OnCall]:
        return []
