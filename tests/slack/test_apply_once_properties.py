"""Property tests: whatever arrives in the signature and retry headers, ``/slack/events``
answers 4xx or 2xx (never 5xx), accepts exactly the correctly signed requests, and hands each
event to the app once however often it is delivered, retried or replayed; and the claims
behind that hold across replicas sharing one database."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.slack.replay import Claim, SeenRequests
from bot.container import Container
from bot.store.db import SessionFactory
from tests.fakes.fixtures import SLACK_SIGNING_SECRET
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import JSON, event_callback_body, member_joined_channel_event
from tests.slack.conftest import SlackHttp

PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

header_text = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=24)
timestamps = st.one_of(
    st.integers(min_value=-250, max_value=250).map(lambda offset: ("fresh", offset)),
    st.just(("stale", -400)),
    st.just(("future", 400)),
    header_text.map(lambda text: ("text", text)),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda value: ("text", str(value))),
    st.sampled_from(["1796062769.5", "abc", " 1796062769", "+1796062769", "0x1F", "١٧٩٦٠٦٢٧٦٩", "", "99999999999999999999"]).map(
        lambda text: ("text", text)
    ),
)
signatures = st.one_of(
    st.just("right"),
    st.sampled_from(["upper", "no-prefix", "v1", "truncated", "longer", "other-secret", "non-ascii"]),
    header_text,
)
retries = st.one_of(st.none(), st.integers(min_value=0, max_value=5).map(str), header_text)
deliveries = st.lists(st.tuples(st.integers(min_value=0, max_value=2), timestamps, signatures, retries), min_size=1, max_size=6)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def header_values(body: bytes, stamp: tuple[str, Any], signature: str, now: int) -> tuple[str, str, bool]:
    """(timestamp header, signature header, whether Slack could have sent exactly these)."""
    kind, value = stamp
    timestamp = str(now + value) if kind in ("fresh", "stale", "future") else str(value)
    right = sign(SLACK_SIGNING_SECRET, timestamp, body)
    forged = {
        "right": right,
        "upper": right.upper(),
        "no-prefix": right[3:],
        "v1": "v1=" + right[3:],
        "truncated": right[:-1],
        "longer": right + "0",
        "other-secret": sign("not-the-secret", timestamp, body),
        "non-ascii": "v0=" + "é" * 64,
    }.get(signature, signature)
    fresh = re.fullmatch(r"[0-9]{1,12}", timestamp) is not None and abs(time.time() - int(timestamp)) <= 300
    return timestamp, forged, fresh and forged == right


def dispatch_log(app: Any) -> list[str]:
    seen: list[str] = []

    async def record(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        seen.append(str(body.get("event_id")))
        await next()

    app.use(record)
    return seen


@PROPERTIES
@given(plan=deliveries)
def test_any_signature_headers_never_5xx_and_each_event_reaches_the_app_once(slack: Container, fake_slack: FakeSlack, plan: list[Any]) -> None:
    if not hasattr(slack, "_dispatch_log"):
        slack._dispatch_log = dispatch_log(slack.slack.app)  # type: ignore[attr-defined]
    dispatched: list[str] = slack._dispatch_log  # type: ignore[attr-defined]
    run_id = uuid.uuid4().hex[:10]
    bodies = [event_callback_body(member_joined_channel_event(user=f"U{i}"), event_id=f"Ev{run_id}{i}") for i in range(3)]
    accepted: set[int] = set()

    async def scenario() -> None:
        http = SlackHttp(slack)
        now = int(time.time())
        for index, stamp, signature, retry in plan:
            timestamp, forged, valid = header_values(bodies[index], stamp, signature, now)
            headers = {"Content-Type": JSON, "X-Slack-Request-Timestamp": timestamp.encode(), "X-Slack-Signature": forged.encode()}
            if retry is not None:
                headers["X-Slack-Retry-Num"] = retry.encode()
            response = await http.client.post("/slack/events", content=bodies[index], headers=headers)
            where = f"{timestamp!r} {forged!r} retry={retry!r} -> {response.status_code} {response.text[:200]!r}"
            if valid:
                assert response.status_code == 200 and response.text == "", where
                accepted.add(index)
            else:
                assert response.status_code == 401, where
                assert "signature" in response.json()["error"].lower() or "timestamp" in response.json()["error"].lower(), where

    asyncio.run(scenario())
    mine = [event_id for event_id in dispatched if event_id.startswith(f"Ev{run_id}")]
    assert sorted(mine) == sorted(f"Ev{run_id}{i}" for i in accepted)


# -- the claims themselves, across two replicas ---------------------------------------------

steps = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=1),  # which replica
        st.sampled_from(["a", "b", "c"]),  # key
        st.integers(min_value=1, max_value=600),  # how long it must be remembered
        st.integers(min_value=0, max_value=400),  # time passing before this step
    ),
    min_size=1,
    max_size=20,
)


@PROPERTIES
@given(plan=steps)
def test_claims_are_won_once_per_window_across_replicas(sessions: SessionFactory, plan: list[tuple[int, str, int, int]]) -> None:
    clock = {"now": 1_900_000_000.0}
    replicas = [SeenRequests(sessions, now=lambda: clock["now"]) for _ in range(2)]
    prefix = uuid.uuid4().hex[:8]
    remembered: dict[str, float] = {}
    for replica, key, keep, elapsed in plan:
        clock["now"] += elapsed
        name = f"{prefix}:{key}"
        expected = name not in remembered or remembered[name] < clock["now"]
        won = replicas[replica].claim([Claim(name, clock["now"] + keep)])
        assert won == expected, (name, clock["now"], remembered.get(name))
        if won:
            remembered[name] = clock["now"] + keep


def test_a_claim_of_several_keys_is_all_or_nothing(sessions: SessionFactory) -> None:
    seen = SeenRequests(sessions, now=lambda: 1_900_000_000.0)
    assert seen.claim([Claim("sig:1", 1_900_000_300.0)])
    # A retry: a new signature but an event already applied. Nothing of it is recorded...
    assert not seen.claim([Claim("sig:2", 1_900_000_300.0), Claim("sig:1", 1_900_000_300.0)])
    # ...so the new signature on its own is still unclaimed.
    assert seen.claim([Claim("sig:2", 1_900_000_300.0)])
    seen.release([Claim("sig:2", 0.0)])
    assert seen.claim([Claim("sig:2", 1_900_000_300.0)])
