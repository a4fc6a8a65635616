"""The pinned summary carries the current playbook phase with Done/Skip, edited in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.incidents import IncidentRepository
from tests.conftest import REPO_PLAYBOOKS
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive


def summary_blocks(fake_slack: FakeSlack, container: Container, number: int) -> list[dict[str, Any]]:
    with container.sessions() as session:
        channel, ts = str(IncidentRepository.get_row(session, number).chat_summary_ref).split(":", 1)
    message = next(m for m in fake_slack.messages(channel) if m["ts"] == ts)
    return message["blocks"]


def step_sections(blocks: list[dict[str, Any]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b.get("block_id", "").startswith("incident_step")]


def test_summary_shows_current_phase_steps_and_follows_progress(
    slack_factory: Callable[..., Container], fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    slack = slack_factory(fake_slack, FIREBREAK_PLAYBOOKS_DIR=str(REPO_PLAYBOOKS))
    number = slack.service.declare(title="Disk full on db-1", severity=Severity.P2, actor="a", source=Source.SLACK).number
    drive(slack, clock)
    first = step_sections(summary_blocks(fake_slack, slack, number))
    assert len(first) == 1 and first[0].startswith("⬜ *1.* Confirm usage") and "`df -h`" in first[0]
    block = next(b for b in summary_blocks(fake_slack, slack, number) if b.get("block_id", "").startswith("incident_step"))
    assert [o["value"] for o in block["accessory"]["options"]] == [f"done:{number}:1:disk-full", f"skip:{number}:1:disk-full"]

    assert slack.guided is not None
    slack.guided.mark(number, 1, "done", actor="<@U0BOB|bob>", source=Source.SLACK)
    drive(slack, clock)
    after = step_sections(summary_blocks(fake_slack, slack, number))
    assert after and all(not text.startswith("⬜ *1.*") for text in after)
    assert after[0].startswith("⬜ *2.*")  # the summary moved on to the next phase
    assert len(fake_slack.calls("chat.update")) >= 1
