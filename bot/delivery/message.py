"""What deliverers receive and what they answer: the seam between the worker and adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    idempotency_key: str
    target: str
    operation: str
    payload: dict[str, Any]
    incident_id: int | None
    attempt: int
    priority: int = 3
    """The incident's severity rank when queued (P0 = 0 … INFO = 4): lower goes first."""

    @property
    def is_retry(self) -> bool:
        """True when an earlier attempt may have reached the peer (crash, timeout)."""
        return self.attempt > 1


@dataclass
class DeliveryResult:
    """``record`` runs in the same transaction that marks the message delivered.

    That is how a local effect (a transcript line, a channel id) is stored exactly once.
    ``record`` writes to the database only: the worker may run it twice (a claim's records
    are first written together, and again one by one under savepoints if one fails).
    Anything else it would do (printing a line) goes in ``after_commit``, which runs once,
    after the message is marked delivered.
    """

    record: Callable[[Session], None] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    after_commit: Callable[[], None] | None = None


class DeliveryError(Exception):
    """A failed attempt. ``retryable=False`` means the peer will never accept it.

    ``not_sent=True``: the adapter deferred before anything reached the peer (its own rate
    pacing). The worker then does not count the attempt (so the next one is not a "retry"
    that must look before repeating, and pacing alone never exhausts the attempts) and waits
    just ``retry_after``, without exponential backoff.
    """

    def __init__(self, message: str, *, retryable: bool = True, retry_after: float | None = None, not_sent: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.not_sent = not_sent


class Deliverer(Protocol):
    async def deliver(self, message: OutboxMessage) -> DeliveryResult: ...
