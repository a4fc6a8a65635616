"""Slash commands: N concurrent signed ``/incident note`` commands at ``POST /slack/events``.

A running ``firebreak serve`` configured for Slack against the fake Slack (real rate limits
by default). One incident is declared first (a signed ``/incident declare``); then
``--commands`` notes arrive at once, each signed as Slack signs it, with its ``response_url``
pointing at a loopback receiver. Prints p50/p99/max time to the HTTP 200 acknowledgement
(Slack's limit is 3 s), and checks every command's effect: one NOTE on the incident's
timeline per command, and one reply per command through its response_url.

    python -m bench.slash_bench [--commands 50] [--rounds 1] [--rate-limit-scale 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select

from bench.load import LoadResult, firebreak_server, poll_until
from bot.store.models import IncidentRow, TimelineRow
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import FORM, sign_slack_request, slash_command_body
from tests.fakes.webhook_receiver import WebhookReceiver

SIGNING_SECRET = "bench-signing-secret"
USERS = (("U0ALICE", "alice"), ("U0BOB", "bob"), ("U0CAROL", "carol"))


def signed(text: str, response_url: str, user: tuple[str, str]) -> tuple[bytes, dict[str, str]]:
    body = slash_command_body(text, user_id=user[0], user_name=user[1], response_url=response_url)
    return body, sign_slack_request(SIGNING_SECRET, body, content_type=FORM)


async def fire(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> LoadResult:
    """All at once: one connection each, released together."""
    result = LoadResult()
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        start = asyncio.Event()
        parked = 0

        async def one(body: bytes, headers: dict[str, str]) -> None:
            nonlocal parked
            parked += 1
            await start.wait()
            began = time.perf_counter()
            try:
                response = await client.post(url, content=body, headers=headers)
                result.statuses[response.status_code] += 1
            except httpx.HTTPError:
                result.errors += 1
            result.latencies.append(time.perf_counter() - began)

        tasks = [asyncio.create_task(one(body, headers)) for body, headers in requests]
        while parked < len(tasks):  # every request waiting at the start line, then release them together
            await asyncio.sleep(0)
        began = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - began
    return result


def count_notes(engine: Any, marker: str) -> int:
    with engine.connect() as connection:
        statement = select(func.count()).select_from(TimelineRow).where(TimelineRow.kind == "note", TimelineRow.text.contains(marker))
        return int(connection.execute(statement).scalar_one())


def run(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeSlack(rate_limit_scale=args.rate_limit_scale).start()
    receiver = WebhookReceiver().start()
    tmp = tempfile.TemporaryDirectory()
    database_url = args.database_url or f"sqlite:///{Path(tmp.name) / 'slash.db'}"
    env = {"DATABASE_URL": database_url, "SLACK_BOT_TOKEN": fake.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake.api_url}
    server = firebreak_server(env)
    engine = create_engine(database_url)
    events = server.url + "/slack/events"
    try:
        server.wait_ready()
        body, headers = signed("declare Checkout is down P2", receiver.url("/declare"), USERS[0])
        declared = httpx.post(events, content=body, headers=headers, timeout=30)
        if declared.status_code != 200 or not poll_until(lambda: _incidents(engine) == 1, 30):
            raise RuntimeError(f"could not declare the incident: {declared.status_code} {declared.text[:200]}")
        with engine.connect() as connection:
            number = int(connection.execute(select(IncidentRow.id)).scalar_one())
        latencies = LoadResult()
        marker = uuid.uuid4().hex[:8]
        for round_ in range(args.rounds):
            requests = [
                signed(f"note INC-{number} bench {marker} round {round_} command {index}", receiver.url(f"/r/{round_}/{index}"), USERS[index % len(USERS)])
                for index in range(args.commands)
            ]
            result = asyncio.run(fire(events, requests))
            latencies.latencies += result.latencies
            latencies.statuses.update(result.statuses)
            latencies.errors += result.errors
            latencies.elapsed += result.elapsed
        expected = args.commands * args.rounds
        landed = poll_until(lambda: count_notes(engine, marker) >= expected, args.timeout)
        notes = count_notes(engine, marker)
        replies_landed = poll_until(lambda: _replies(receiver) >= expected, args.timeout)
        result_dict = {
            "commands": expected,
            "concurrent": args.commands,
            "statuses": dict(latencies.statuses),
            "transport_errors": latencies.errors,
            "p50_ms": latencies.percentile(50) * 1000,
            "p99_ms": latencies.percentile(99) * 1000,
            "max_ms": max(latencies.latencies) * 1000 if latencies.latencies else float("nan"),
            "notes_on_timeline": notes,
            "all_landed": landed and notes == expected,
            "replies": _replies(receiver),
            "all_replied": replies_landed,
            "peak_rss_mib": server.peak_rss_mib(),
        }
    finally:
        server.stop()
        engine.dispose()
        receiver.stop()
        fake.stop()
        tmp.cleanup()
    return result_dict


def _incidents(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(IncidentRow)).scalar_one())


def _replies(receiver: WebhookReceiver) -> int:
    return sum(1 for item in receiver.received if item.path.startswith("/r/"))


def report(result: dict[str, Any]) -> None:
    print(f"slash commands: {result['commands']} /incident note, {result['concurrent']} at once; statuses {result['statuses']}; "
          f"transport errors {result['transport_errors']}")
    print(f"ack latency: p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms (Slack's limit 3000 ms)")
    print(f"notes on the timeline: {result['notes_on_timeline']} of {result['commands']}; all landed: {result['all_landed']}")
    print(f"replies through response_url: {result['replies']} of {result['commands']}")
    print(f"server peak RSS (VmHWM): {result['peak_rss_mib']:.0f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=50, help="sent at once")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the burst (more samples for p99)")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0, help="the fake Slack's pacing; 1 = Slack's real limits")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--timeout", type=float, default=60.0, help="wait this long for the effects")
    report(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
