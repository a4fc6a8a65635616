"""The event stream behind live pages: a change event whenever another writer changes the
incident, nothing while it does not, and ``gone`` for an incident that is not there."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.container import Container
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.export.service import Exporter
from bot.webview.auth import AuthConfig
from bot.webview.context import WebContext
from bot.webview.sse import changes


def context_for(web: Container) -> WebContext:
    config = AuthConfig.build(token="t" * 20, user_header=None, trusted=[], secret=None, public_url=None)
    exporter = Exporter(web.sessions, clock=web.clock)
    return WebContext(db=web.sessions, exporter=exporter, auth=config, zone=web.settings.zone, clock=web.clock, poll_seconds=0.05)


async def _next(stream: AsyncIterator[str]) -> str:
    return await asyncio.wait_for(anext(stream), timeout=5)


def test_a_change_by_another_writer_is_announced(web: Container) -> None:
    number = web.service.declare(title="live", severity=Severity.P2, actor="a", source=Source.CONSOLE).number

    async def scenario() -> tuple[str, str, str]:
        stream = changes(context_for(web), number, None, lifetime=30)
        retry = await _next(stream)
        first = await _next(stream)
        await asyncio.to_thread(web.service.add_note, number, "from elsewhere", actor="b", source=Source.SLACK)
        second = await _next(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        return retry, first, second

    retry, first, second = asyncio.run(scenario())
    assert retry.startswith("retry: ")
    assert first.startswith("id: ") and "event: change" in first
    assert "event: change" in second and second.split("\n")[0] != first.split("\n")[0]


def test_a_reconnect_with_the_current_marker_hears_nothing_until_a_change(web: Container) -> None:
    number = web.service.declare(title="live", severity=Severity.P2, actor="a", source=Source.CONSOLE).number

    async def scenario() -> tuple[str, str]:
        context = context_for(web)
        stream = changes(context, number, None, lifetime=30)
        await _next(stream)
        current = (await _next(stream)).split("\n")[0].removeprefix("id: ")
        await stream.aclose()  # type: ignore[attr-defined]
        again = changes(context, number, current, lifetime=30)
        await _next(again)
        waiting = asyncio.ensure_future(_next(again))
        done, _ = await asyncio.wait({waiting}, timeout=0.3)
        assert not done, "nothing changed, so nothing is sent"
        await asyncio.to_thread(web.service.acknowledge, number, actor="b", source=Source.SLACK)
        changed = await waiting
        await again.aclose()  # type: ignore[attr-defined]
        return current, changed

    current, changed = asyncio.run(scenario())
    assert "event: change" in changed and current not in changed


def test_an_unknown_incident_ends_the_stream(web: Container) -> None:
    async def scenario() -> list[str]:
        return [event async for event in changes(context_for(web), 4242, None, lifetime=5)]

    events = asyncio.run(scenario())
    assert events[-1].startswith("event: gone")
