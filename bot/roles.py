"""Which loops and routes a process runs: ``firebreak serve`` is both roles, ``web`` and ``worker`` one each.

- **web** answers HTTP: webhooks are verified and queued in the inbox, Slack slash commands
  and interactions are acknowledged (and applied, see docs/operations.md), Socket Mode runs
  here when configured, plus health, metrics and exports.
- **worker** applies what web queued: the ingester (inbox -> incidents), the delivery worker
  (outbox -> Slack, PagerDuty), the escalation scheduler and the guided-steps ticker. Its only
  listener is the optional health port.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    WEB = "web"
    WORKER = "worker"


#: ``firebreak serve``: one process does everything (local mode, SQLite).
ALL_ROLES: frozenset[Role] = frozenset(Role)
