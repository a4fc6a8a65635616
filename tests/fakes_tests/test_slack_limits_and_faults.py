"""Rate limiting (per tier, per channel) and fault injection of the fake Slack."""

from __future__ import annotations

import asyncio
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.rate_limits import Limit
from tests.fakes.slack_api import FakeSlack


def test_injected_429_carries_retry_after(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    fake_slack.rate_limit_next("chat.postMessage", retry_after=7, count=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            client.chat_postMessage(channel="incidents", text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "7"
        assert caught.value.response["error"] == "ratelimited"
    assert client.chat_postMessage(channel="incidents", text="x")["ok"]
    assert fake_slack.served_429 == 2


def test_sdk_retry_handler_honours_retry_after(fake_slack: FakeSlack) -> None:
    client = WebClient(
        token=fake_slack.token,
        base_url=fake_slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=2)],
    )
    fake_slack.rate_limit_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    assert client.chat_postMessage(channel="incidents", text="x")["ok"]
    assert time.monotonic() - started >= 1.0
    assert [c.status for c in fake_slack.calls("chat.postMessage")] == [429, 200]


def test_5xx_injection_and_outage(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    fake_slack.fail_next("conversations.create", status=500)
    with pytest.raises(SlackApiError) as caught:
        client.conversations_create(name="inc-1")
    assert caught.value.response.status_code == 500
    assert client.conversations_create(name="inc-1")["ok"]

    fake_slack.outage(0.5, status=503)
    with pytest.raises(SlackApiError) as caught:
        client.auth_test()
    assert caught.value.response.status_code == 503
    time.sleep(0.6)  # the outage lasts 0.5 s of real time: that it ends by itself is what is tested
    assert client.auth_test()["ok"]
    assert fake_slack.served_5xx == 2


def test_api_level_error_injection(fake_slack: FakeSlack) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    fake_slack.fail_next(
        "conversations.setTopic", status=200, error="channel_not_found"
    )
    with pytest.raises(SlackApiError) as caught:
        client.conversations_setTopic(channel="incidents", topic="x")
    assert (
        caught.value.response.status_code == 200
        and caught.value.response["error"] == "channel_not_found"
    )


def test_tier_limits_with_burst(make_fake_slack) -> None:
    fake = make_fake_slack(
        rate_limits={"conversations.create": Limit(per_minute=60, burst=2)}
    )
    client = WebClient(token=fake.token, base_url=fake.api_url)
    assert (
        client.conversations_create(name="a1")["ok"]
        and client.conversations_create(name="a2")["ok"]
    )
    with pytest.raises(SlackApiError) as caught:
        client.conversations_create(name="a3")
    assert (
        caught.value.response.status_code == 429
        and int(caught.value.response.headers["Retry-After"]) >= 1
    )
    assert client.auth_test()["ok"]  # other methods are not limited by this table
    assert fake.channels[-1].name == "a2"  # the refused call changed nothing


def test_post_message_is_paced_per_channel(make_fake_slack) -> None:
    fake = make_fake_slack(rate_limit_scale=1.0)
    client = WebClient(token=fake.token, base_url=fake.api_url)

    def burst(channel: str) -> list[int]:
        statuses = []
        for i in range(5):
            try:
                client.chat_postMessage(channel=channel, text=f"{i}")
                statuses.append(200)
            except SlackApiError as exc:
                statuses.append(exc.response.status_code)
        return statuses

    assert burst("general") == [200, 200, 200, 429, 429]
    assert burst("incidents") == [
        200,
        200,
        200,
        429,
        429,
    ]  # separate bucket per channel


def test_scaled_limits_refill_quickly(make_fake_slack) -> None:
    fake = make_fake_slack(rate_limits={"chat.update": Limit(per_minute=600, burst=1)})
    client = WebClient(token=fake.token, base_url=fake.api_url)
    ts = client.chat_postMessage(channel="general", text="x")["ts"]
    client.chat_update(channel="general", ts=ts, text="y")
    with pytest.raises(SlackApiError):
        client.chat_update(channel="general", ts=ts, text="z")
    time.sleep(0.15)  # 600/min = one token per 100 ms: the refill over real time is what is tested
    assert client.chat_update(channel="general", ts=ts, text="z")["ok"]


def test_concurrent_async_calls_are_counted_exactly(make_fake_slack) -> None:
    fake = make_fake_slack(
        rate_limits={"chat.postMessage": Limit(per_minute=0.01, burst=5)}
    )

    async def storm() -> list[int]:
        client = AsyncWebClient(token=fake.token, base_url=fake.api_url, timeout=5)

        async def one(i: int) -> int:
            try:
                await client.chat_postMessage(channel="general", text=str(i))
                return 200
            except SlackApiError as exc:
                return exc.response.status_code

        return await asyncio.gather(*(one(i) for i in range(30)))

    statuses = asyncio.run(storm())
    assert statuses.count(200) == 5 and statuses.count(429) == 25
    assert fake.served_429 == 25 and len(fake.messages("general")) == 5


def test_wait_for_calls_times_out(fake_slack: FakeSlack) -> None:
    with pytest.raises(TimeoutError):
        fake_slack.wait_for_calls("chat.postMessage", timeout=0.2)
