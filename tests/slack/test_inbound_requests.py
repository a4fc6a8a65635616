"""``POST /slack/events`` as Slack uses it: requests nobody handles, token loss, retries,
replays and malformed signature headers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from slack_bolt.async_app import AsyncApp
from sqlalchemy import text

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from tests.fakes.fixtures import SLACK_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import (
    FORM,
    JSON,
    app_mention_event,
    app_uninstalled_event,
    block_actions_body,
    block_actions_payload,
    event_callback_body,
    member_joined_channel_event,
    sign_slack_request,
    slash_command_body,
    tokens_revoked_event,
    view_closed_body,
    view_submission_body,
)
from tests.faults.support import table_counts
from tests.slack.conftest import SlackHttp, drive, outbox
from tests.support.waiting import eventually


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))  # type: ignore[arg-type]


def count_dispatches(app: AsyncApp) -> list[dict[str, Any]]:
    """Every request body that reaches Bolt's listeners, in order (a global middleware runs
    inside the request, so the list is complete when the HTTP answer arrives)."""
    seen: list[dict[str, Any]] = []

    async def record(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        seen.append(body)
        await next()

    app.use(record)
    return seen


def unhandled_requests() -> list[tuple[str, bytes, str]]:
    return [
        ("a button of another app version", block_actions_body("someone_elses_button", "42"), FORM),
        ("a select of another app version", block_actions_body("old_menu", "x", action_type="static_select"), FORM),
        ("a modal Firebreak does not know", view_submission_body("retired_modal", {}), FORM),
        ("a closed modal", view_closed_body(), FORM),
        ("member_joined_channel", event_callback_body(member_joined_channel_event()), JSON),
        ("an event type nobody subscribed to yet", event_callback_body({"type": "channel_rename", "channel": {"id": "C1", "name": "x"}}), JSON),
        ("a slash command of another app", slash_command_body("hello", command="/other"), FORM),
        ("user tokens revoked (not the bot's)", event_callback_body(tokens_revoked_event(bot=[], oauth=["U0ALICE"])), JSON),
    ]


def test_every_signed_request_without_a_listener_is_acknowledged(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        for what, body, content_type in unhandled_requests():
            response = await http.post(body, content_type)
            assert response.status_code == 200, (what, response.status_code, response.text)
            assert response.text == "", what  # an empty 200 is the acknowledgement; a body would show as a message
        assert await asyncio.to_thread(slack.service.recent) == []
        assert slack.slack.pause.current() is None  # user tokens revoked: the bot keeps delivering

    run(scenario)


def test_unhandled_requests_get_the_same_answer_as_handled_ones(slack: Container, fake_slack: FakeSlack) -> None:
    """The acknowledgement does not wait for work: a handled event and an unhandled one both
    answer an empty 200 (Slack's three-second budget is spent by neither)."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        handled = await http.post(event_callback_body(app_mention_event(channel=fake_slack.channel("general").id)), JSON)
        unhandled = await http.post(event_callback_body(member_joined_channel_event()), JSON)
        assert (handled.status_code, handled.text) == (unhandled.status_code, unhandled.text) == (200, "")

    run(scenario)


def pending_slack_rows(container: Container) -> list[Any]:
    return [row for row in outbox(container) if row.target == "chat"]


def test_tokens_revoked_pauses_delivery_without_spending_attempts(
    slack: Container, slack_factory: Callable[..., Container], fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        response = await http.post(event_callback_body(tokens_revoked_event(bot=["U0BOT"])), JSON)
        assert response.status_code == 200
        state = await eventually(slack.slack.pause.current)
        assert state.reason == "tokens_revoked"

        ready = await http.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["slack_delivery"]["state"] == "paused" and ready.json()["slack_delivery"]["reason"] == "tokens_revoked"
        assert "SLACK_BOT_TOKEN" in ready.json()["warnings"][0]
        metrics = (await http.client.get("/metrics")).text
        assert 'firebreak_slack_delivery_paused{reason="tokens_revoked"} 1.0' in metrics
        assert 'firebreak_slack_delivery_paused{reason="app_uninstalled"} 0.0' in metrics

    run(scenario)
    fake_slack.reset()
    slack.service.declare(title="Checkout is failing", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    drive(slack, clock, horizon=timedelta(hours=2))  # two hours of retry rounds while paused
    rows = pending_slack_rows(slack)
    assert rows and all(row.status == "pending" and row.attempts == 0 for row in rows)
    assert "paused" in str(rows[0].last_error)
    assert fake_slack.calls() == []  # nothing reached Slack while paused

    # The app installed again: a new bot token. A process started with it delivers the backlog.
    fake_slack.token = "xoxb-1-firebreak-reinstalled"
    reinstalled = slack_factory(fake_slack, SLACK_BOT_TOKEN=fake_slack.token)
    assert reinstalled.slack.pause.current() is None
    drive(reinstalled, clock)
    assert all(row.status == "delivered" for row in pending_slack_rows(reinstalled))
    assert fake_slack.calls("conversations.create", ok=True)


def test_app_uninstalled_pauses_delivery(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        assert (await http.client.get("/readyz")).json()["slack_delivery"] == {"state": "running"}
        assert (await http.post(event_callback_body(app_uninstalled_event()), JSON)).status_code == 200
        await eventually(slack.slack.pause.current)
        ready = (await http.client.get("/readyz")).json()
        assert ready["status"] == "ready" and ready["slack_delivery"]["reason"] == "app_uninstalled"
        assert "uninstalled" in ready["warnings"][0]

    run(scenario)


def test_slack_refusing_the_token_pauses_delivery_too(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """A revocation we never heard about (the event was lost): Slack's own answer pauses."""
    fake_slack.fail_next("*", status=200, error="token_revoked", count=1)
    slack.service.declare(title="Checkout is failing", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    drive(slack, clock, horizon=timedelta(hours=1))
    state = slack.slack.pause.current()
    assert state is not None and state.reason == "token_revoked"
    rows = pending_slack_rows(slack)
    assert rows and all(row.status == "pending" and row.attempts == 0 for row in rows)
    assert len(fake_slack.calls()) == 1  # the refused call; nothing after it


def test_events_api_retries_are_applied_once_by_event_id(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        dispatched = count_dispatches(slack.slack.app)
        general = fake_slack.channel("general").id
        body = event_callback_body(app_mention_event(channel=general), event_id="Ev0RETRY0001")
        first = await http.post(body, JSON)
        # Slack's retries: the same event, signed again (a later timestamp), with the retry headers.
        for attempt, stamp in ((1, int(time.time()) + 1), (2, int(time.time()) + 2)):
            headers = sign_slack_request(SLACK_SIGNING_SECRET, body, stamp, content_type=JSON)
            headers |= {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
            retry = await http.client.post("/slack/events", content=body, headers=headers)
            assert retry.status_code == 200 and retry.text == ""
        assert first.status_code == 200
        assert [b.get("event_id") for b in dispatched] == ["Ev0RETRY0001"]
        # And the one dispatch did its work once: the help answer.
        await eventually(lambda: fake_slack.calls("chat.postMessage", ok=True))
        other = await http.post(event_callback_body(app_mention_event(channel=general), event_id="Ev0OTHER0002"), JSON)
        assert other.status_code == 200
        await eventually(lambda: len(fake_slack.calls("chat.postMessage", ok=True)) == 2)

    run(scenario)


def test_a_replayed_slash_command_is_applied_once(slack: Container, fake_slack: FakeSlack) -> None:
    """A captured signed request, sent again byte for byte inside Slack's five minutes."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        dispatched = count_dispatches(slack.slack.app)
        body = slash_command_body("declare Checkout down P1")
        headers = sign_slack_request(SLACK_SIGNING_SECRET, body, content_type=FORM)
        answers = [await http.client.post("/slack/events", content=body, headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert len(dispatched) == 1
        # The sentinel: a different command goes through, and only two incidents exist.
        assert (await http.post(slash_command_body("declare Payments slow P2"), FORM)).status_code == 200
        incidents = await eventually(lambda: len(slack.service.recent()) == 2 and slack.service.recent())
        assert sorted(i.title for i in incidents) == ["Checkout down", "Payments slow"]

    run(scenario)


def test_a_request_bolt_fails_is_released_for_slacks_retry(slack: Container, fake_slack: FakeSlack) -> None:
    """Claims are taken only for requests that were applied: a 5xx leaves the retry free."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        failures = {"left": 1}

        async def flaky(next: Callable[[], Awaitable[None]]) -> None:
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("database blip")
            await next()

        slack.slack.app.use(flaky)
        dispatched = count_dispatches(slack.slack.app)
        body = event_callback_body(member_joined_channel_event(), event_id="Ev0FLAKY0001")
        assert (await http.post(body, JSON)).status_code == 500
        headers = sign_slack_request(SLACK_SIGNING_SECRET, body, int(time.time()) + 1, content_type=JSON) | {"X-Slack-Retry-Num": "1"}
        assert (await http.client.post("/slack/events", content=body, headers=headers)).status_code == 200
        assert [b["event_id"] for b in dispatched] == ["Ev0FLAKY0001"]

    run(scenario)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def malformed_requests() -> list[tuple[str, bytes, dict[str, Any]]]:
    body = slash_command_body("declare Checkout down P1")
    good = sign_slack_request(SLACK_SIGNING_SECRET, body, content_type=FORM)
    nested_json = ('{"type": "event_callback", "event_id": "Ev1", "event": ' + deep(100_000) + "}").encode()
    nested_form = urlencode({"payload": '{"type": "block_actions", "actions": ' + deep(100_000) + "}"}).encode()
    too_deep = ('{"type": "event_callback", "event_id": "Ev2", "event": {"type": "x", "a": ' + deep(200) + "}}").encode()
    return [
        ("timestamp abc", body, good | {"X-Slack-Request-Timestamp": "abc"}),
        ("fractional timestamp", body, good | {"X-Slack-Request-Timestamp": "1796062769.5"}),
        ("negative timestamp", body, good | {"X-Slack-Request-Timestamp": "-1"}),
        ("non-ASCII signature", body, good | {"X-Slack-Signature": ("v0=" + "é" * 64).encode()}),
        ("non-ASCII timestamp", body, good | {"X-Slack-Request-Timestamp": "١٧٩٦٠٦٢٧٦٩".encode()}),
        ("signature without v0=", body, good | {"X-Slack-Signature": good["X-Slack-Signature"][3:]}),
        ("upper-case signature", body, good | {"X-Slack-Signature": good["X-Slack-Signature"].upper()}),
        ("deeply nested JSON, signed", nested_json, sign_slack_request(SLACK_SIGNING_SECRET, nested_json, content_type=JSON)),
        ("deeply nested payload=, signed", nested_form, sign_slack_request(SLACK_SIGNING_SECRET, nested_form, content_type=FORM)),
        ("nested past the limit, signed", too_deep, sign_slack_request(SLACK_SIGNING_SECRET, too_deep, content_type=JSON)),
    ]


def test_malformed_signature_headers_and_deep_bodies_are_4xx(slack: Container, fake_slack: FakeSlack) -> None:
    async def scenario() -> None:
        http = SlackHttp(slack)
        for what, body, headers in malformed_requests():
            before = await asyncio.to_thread(table_counts, slack.engine)
            response = await http.client.post("/slack/events", content=body, headers=headers)
            assert 400 <= response.status_code < 500, (what, response.status_code, response.text[:300])
            error = response.json()["error"]
            assert isinstance(error, str) and len(error) < 300, what
            assert await asyncio.to_thread(table_counts, slack.engine) == before, what
        assert "whole seconds" in (await http.client.post("/slack/events", content=b"", headers={"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=" + "0" * 64})).json()["error"]

    run(scenario)


def test_bodies_nested_as_deep_as_slack_sends_are_accepted(slack: Container, fake_slack: FakeSlack) -> None:
    """The depth limit is far above real payloads: a rich-text message event passes."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        rich = {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "hi"}]}]}
        event = member_joined_channel_event() | {"blocks": [rich]}
        assert (await http.post(event_callback_body(event), JSON)).status_code == 200

    run(scenario)


def test_url_verification_still_answers_the_challenge(slack: Container, fake_slack: FakeSlack) -> None:
    from tests.fakes.slack_requests import url_verification_body

    async def scenario() -> None:
        response = await SlackHttp(slack).post(url_verification_body("chal-123"), JSON)
        assert response.status_code == 200 and response.json() == {"challenge": "chal-123"}

    run(scenario)


def test_a_request_that_cannot_be_recorded_is_503_and_not_applied(slack: Container, fake_slack: FakeSlack) -> None:
    """Without its claim a request could be applied twice; Slack retries a 503 instead."""

    async def scenario() -> None:
        http = SlackHttp(slack)
        dispatched = count_dispatches(slack.slack.app)
        with slack.engine.begin() as connection:  # the table out of reach for a moment
            connection.execute(text("ALTER TABLE slack_seen_requests RENAME TO slack_seen_requests_away"))
        try:
            response = await http.post(event_callback_body(member_joined_channel_event()), JSON)
        finally:
            with slack.engine.begin() as connection:
                connection.execute(text("ALTER TABLE slack_seen_requests_away RENAME TO slack_seen_requests"))
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert "database" in response.json()["error"] and dispatched == []

    run(scenario)


def test_a_signed_slash_command_without_user_id_is_refused_plainly(
    slack: Container, fake_slack: FakeSlack, caplog: Any
) -> None:
    """Slack always names the user; a body without ``user_id`` gets a refusal in the
    acknowledgement itself, changes nothing and logs no traceback."""
    from urllib.parse import parse_qsl

    fields = dict(parse_qsl(slash_command_body("declare Checkout is down").decode()))
    for cut in ({"user_id"}, set()):
        body = {key: value for key, value in fields.items() if key not in cut}
        if not cut:
            body["user_id"] = ""

        async def scenario(form: dict[str, str] = body) -> None:
            http = SlackHttp(slack)
            response = await http.post(urlencode(form).encode(), FORM)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["response_type"] == "ephemeral" and "user_id" in answer["text"] and answer["text"].startswith("🚫")

        with caplog.at_level("WARNING"):
            run(scenario)
        assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
        assert any("without user_id" in r.getMessage() for r in caplog.records)
        caplog.clear()
    assert slack.service.recent() == []


def test_a_sender_gone_before_its_body_arrived_is_logged_not_a_crash(monkeypatch: Any) -> None:
    """The connection closed mid-body (or the body timeout cut it off): the handler is told by
    a disconnect, answers nobody, and nothing reaches Bolt or the replay claims."""
    from starlette.applications import Starlette

    from bot.chat.slack.http import slack_routes

    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"{name} used for a request that never arrived")

    app = Starlette(routes=slack_routes(Untouchable(), SLACK_SIGNING_SECRET, Untouchable()))  # type: ignore[arg-type]
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http", "method": "POST", "path": "/slack/events", "raw_path": b"/slack/events", "query_string": b"",
        "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 5000), "http_version": "1.1",
        "headers": [(b"x-slack-request-timestamp", str(int(time.time())).encode()), (b"x-slack-signature", b"v0=" + b"0" * 64),
                    (b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"100000")],
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    from bot.chat.slack import http

    said: list[str] = []

    class Log:  # the module's logger, as other tests may have reconfigured logging meanwhile
        def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
            said.append(message)

    monkeypatch.setattr(http, "log", Log())
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert said == ["slack request abandoned before its body arrived; nothing done"]


def malformed_interactions() -> list[tuple[str, dict[str, Any]]]:
    """Signed interactions whose shape Slack never sends: Bolt itself failed on the first six."""
    click = block_actions_payload("incident_ack", "1")
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"actions {actions!r}", {**click, "actions": actions}) for actions in ([], "x", [1], [{}], [{"action_id": 5}], None)
    ]
    cases.append(("no actions", {key: value for key, value in click.items() if key != "actions"}))
    cases += [
        ("a modal submitted without its view", {"type": "view_submission", "user": {"id": "U0ALICE"}}),
        ("a modal whose view is a string", {"type": "view_submission", "user": {"id": "U0ALICE"}, "view": "x"}),
        ("a shortcut without a callback_id", {"type": "shortcut", "user": {"id": "U0ALICE"}}),
        ("a suggestion request without an action_id", {"type": "block_suggestion", "user": {"id": "U0ALICE"}}),
    ]
    return cases


def test_malformed_signed_interactions_are_refused_not_failed(slack: Container, fake_slack: FakeSlack) -> None:
    number = slack.service.declare(title="Checkout", severity=Severity.P2, actor="a", source=Source.CONSOLE).number

    async def scenario() -> None:
        http = SlackHttp(slack)
        before = await asyncio.to_thread(table_counts, slack.engine)
        for what, payload in malformed_interactions():
            response = await http.post(urlencode({"payload": json.dumps(payload)}).encode(), FORM)
            assert response.status_code < 500, (what, response.status_code, response.text)
            if payload.get("type") == "block_actions":
                assert response.status_code == 400, (what, response.status_code)
                assert "action" in response.json()["error"], what
        after = await asyncio.to_thread(table_counts, slack.engine)
        # Nothing applied; only the acknowledged ones are remembered (as replays to refuse).
        assert {**after, "slack_seen_requests": 0} == {**before, "slack_seen_requests": 0}
        assert after["slack_seen_requests"] - before["slack_seen_requests"] == 4
        assert slack.service.get(number).status.value == "triggered"

    run(scenario)
