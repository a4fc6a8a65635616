"""The pure pieces of the Slack adapter: names, blocks, pacing, permissions, identities."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.chat.naming import channel_name
from bot.chat.slack import blocks
from bot.chat.slack.identity import actor_for, user_id_of
from bot.chat.slack.interactions import UnknownAction, command_line, parse_action
from bot.chat.slack.pacing import Pacer, Tier
from bot.delivery.message import DeliveryError
from bot.domain.incident import Incident, Role, Status
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.fakes.slack_state import SlackError, validate_channel_name


def incident(**changes: object) -> Incident:
    made, _ = Incident.declare(
        number=7, title="Checkout is failing", severity=Severity.P1, actor="a", source=Source.SLACK,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    for key, value in changes.items():
        setattr(made, key, value)
    return made


@pytest.mark.parametrize(
    "title",
    ["Checkout is failing", "DB.primary CPU 100% — Überlast!!", "x" * 300, "   ", "日本語のタイトル", "a.b.c"],
)
def test_channel_names_follow_slacks_rules(title: str) -> None:
    for suffix in ("", "2"):
        name = channel_name(1234, title, suffix=suffix)
        try:
            validate_channel_name(name)
        except SlackError as error:  # pragma: no cover - the assertion below explains
            pytest.fail(f"{name!r}: {error.code}")
        assert name.startswith("inc-1234") and len(name) <= 80


def test_summary_buttons_follow_the_status() -> None:
    def labels(status: Status) -> list[str]:
        found = [b for b in blocks.summary_blocks(incident(status=status)) if b["type"] == "actions"]
        return [e["text"]["text"] for e in found[0]["elements"]] if found else []

    assert labels(Status.TRIGGERED) == ["Acknowledge", "Mitigated", "Resolve", "Escalate"]
    assert labels(Status.ACKNOWLEDGED) == ["Mitigated", "Resolve", "Escalate"]
    assert labels(Status.MITIGATED) == ["Resolve", "Escalate"]
    assert labels(Status.RESOLVED) == []


def test_summary_stays_within_block_kit_limits() -> None:
    big = incident(title="t" * 200, description="d" * 5000, links={f"l{i}": f"https://x/{i}" for i in range(20)})
    steps = [blocks.StepView(n, "s" * 4000, "pending") for n in range(1, 80)]
    rendered = blocks.summary_blocks(big, steps=steps)
    assert len(rendered) <= 50
    assert len(rendered[0]["text"]["text"]) <= 150
    for block in rendered:
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= 3000


def test_step_rows_offer_done_and_skip_until_marked() -> None:
    steps = [blocks.StepView(1, "Check the load balancer", "done"), blocks.StepView(2, "Roll back", "pending")]
    rows = [b for b in blocks.summary_blocks(incident(), steps=steps) if b.get("block_id", "").startswith("incident_step")]
    assert "accessory" not in rows[0] and rows[0]["text"]["text"].startswith("☑️")
    values = [o["value"] for o in rows[1]["accessory"]["options"]]
    assert values == ["done:7:2", "skip:7:2"]
    deadline = blocks.step_actions(7, 3)
    assert [e["value"] for e in deadline["elements"]] == ["7:3", "7:3"]


def test_topic_names_severity_status_and_commander_within_250() -> None:
    text = blocks.topic(incident(roles={Role.COMMANDER: "<@U1|ann>"}, title="x" * 300))
    assert text.startswith("P1 · triggered · IC <@U1|ann> · ") and len(text) <= 250


def test_buttons_map_to_the_typed_commands() -> None:
    def line(action: dict) -> str:  # type: ignore[type-arg]
        what, number, step, _playbook = parse_action(action)
        return command_line(what, number, step)

    assert line({"action_id": "firebreak_ack", "value": "7"}) == "/incident ack INC-7"
    assert line({"action_id": "firebreak_escalate", "value": "7"}) == "/incident escalate INC-7"
    assert line({"action_id": "firebreak_step_done", "value": "7:3"}) == "/incident step done 3 INC-7"
    menu = {"action_id": "firebreak_step_menu", "selected_option": {"value": "skip:7:4"}}
    assert line(menu) == "/incident step skip 4 INC-7"
    assert parse_action({"action_id": "firebreak_step_done", "value": "7:3:disk-full"})[3] == "disk-full"
    assert parse_action({"action_id": "firebreak_step_menu", "selected_option": {"value": "done:7:4:disk-full"}})[3] == "disk-full"


@pytest.mark.parametrize(
    "action",
    [
        {"action_id": "firebreak_ack", "value": "99999999999999999999"},
        {"action_id": "firebreak_ack", "value": ""},
        {"action_id": "firebreak_ack", "value": "1e5"},
        {"action_id": "firebreak_ack", "value": "-7"},
        {"action_id": "firebreak_step_done", "value": "7:x"},
        {"action_id": "firebreak_step_done", "value": "7:3:<!here>"},
        {"action_id": "firebreak_step_menu", "selected_option": None},
        {"action_id": "firebreak_step_menu", "selected_option": {"value": "done:7"}},
        {"action_id": "firebreak_step_menu", "selected_option": {"value": "drop:7:3"}},
        {"action_id": "firebreak_nonsense", "value": "7"},
        {"value": "7"},
    ],
)
def test_values_firebreak_never_makes_are_refused_with_one_answer(action: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(UnknownAction, match="not one Firebreak made; nothing was changed"):
        parse_action(action)


def test_identities() -> None:
    assert actor_for("U1", "ann") == "<@U1|ann>" and actor_for("U1") == "<@U1>"
    assert user_id_of("<@U1|ann>") == "U1" and user_id_of("W2ABC") == "W2ABC" and user_id_of("@ann") is None


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_lets_a_burst_through_then_spaces_calls() -> None:
    ticker = Ticker()
    pacer = Pacer(monotonic=ticker, sleep=ticker.sleep, max_wait=10, tiers={"m": Tier(per_minute=60, burst=2)})

    async def calls(n: int) -> None:
        for _ in range(n):
            await pacer.wait_turn("m")

    asyncio.run(calls(4))
    assert ticker.slept == pytest.approx([1.0, 1.0])


def test_pacer_hands_long_waits_back_to_the_outbox() -> None:
    ticker = Ticker()
    pacer = Pacer(monotonic=ticker, sleep=ticker.sleep, max_wait=2, tiers={"m": Tier(per_minute=20, burst=1)})
    asyncio.run(pacer.wait_turn("m"))
    with pytest.raises(DeliveryError) as raised:
        asyncio.run(pacer.wait_turn("m"))
    assert raised.value.retryable and raised.value.retry_after == pytest.approx(3.0)
    pacer.penalise("m", None, 30)
    ticker.now += 10
    with pytest.raises(DeliveryError) as raised:
        asyncio.run(pacer.wait_turn("m"))
    assert raised.value.retry_after == pytest.approx(20.0)


def test_post_message_is_paced_per_channel() -> None:
    ticker = Ticker()
    pacer = Pacer(monotonic=ticker, sleep=ticker.sleep, max_wait=0)

    async def burst() -> None:
        for channel in ("C1", "C1", "C1", "C2", "C2", "C2"):
            await pacer.wait_turn("chat.postMessage", channel)

    asyncio.run(burst())
    with pytest.raises(DeliveryError):
        asyncio.run(pacer.wait_turn("chat.postMessage", "C1"))
    asyncio.run(pacer.wait_turn("users.info"))  # untiered methods are not paced


def test_a_pacing_deferral_is_not_sent_only_before_the_first_call_of_a_delivery() -> None:
    from bot.chat.slack.gateway import SlackGateway, counting_calls

    ticker = Ticker()
    pacer = Pacer(monotonic=ticker, sleep=ticker.sleep, max_wait=0, tiers={"conversations.create": Tier(per_minute=20, burst=1)})

    class Client:
        async def auth_test(self) -> object:
            return type("R", (), {"data": {"ok": True}})()

    gateway = SlackGateway(Client(), pacer)  # type: ignore[arg-type]

    async def deliver(first: str | None) -> DeliveryError:
        with counting_calls():
            if first:
                await gateway.call(first)
            with pytest.raises(DeliveryError) as raised:
                await gateway.call("conversations.create", name="inc-1")
            return raised.value

    asyncio.run(pacer.wait_turn("conversations.create"))  # the bucket is empty now
    assert asyncio.run(deliver(None)).not_sent
    assert not asyncio.run(deliver("auth.test")).not_sent  # something reached Slack first

    async def outside_a_delivery() -> DeliveryError:
        with pytest.raises(DeliveryError) as raised:
            await gateway.call("conversations.create", name="inc-1")
        return raised.value

    assert not asyncio.run(outside_a_delivery()).not_sent  # unknown: keep the careful default


def test_modal_values_read_only_what_slack_documents() -> None:
    state = {"values": {"title": {"value": {"type": "plain_text_input", "value": "DB down"}},
                        "severity": {"value": {"type": "static_select", "selected_option": {"value": "P1"}}}}}
    assert blocks.modal_values(state) == {"title": "DB down", "severity": "P1"}
    for forged in ("text", {"values": "x"}, {"values": {"title": ["a"]}}, {"values": {"title": {"value": "a"}}},
                   {"values": {"severity": {"value": {"type": "static_select", "selected_option": "P1"}}}},
                   {"values": {"title": {"value": {"type": "plain_text_input", "value": ["a"]}}}}):
        assert set(blocks.modal_values(forged).values()) <= {""}, forged
