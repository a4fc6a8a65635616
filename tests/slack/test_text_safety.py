"""Text we did not write cannot ping a channel or break Slack markup."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot import text_safety
from bot.chat import render
from bot.chat.commands import CommandContext
from bot.chat.console.transcript import print_line
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.export.service import Exporter
from bot.store.incidents import IncidentRepository
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive, outbox


def channel_of(slack: Container, number: int) -> str:
    with slack.sessions() as session:
        return str(IncidentRepository.get_row(session, number).chat_channel_id)


def test_safe_keeps_person_and_channel_mentions_only() -> None:
    assert text_safety.slack_text("ping <!channel> & <!here|here> then <@U0BOB|bob> in <#C123|ops>", people=True) == (
        "ping &lt;!channel&gt; &amp; &lt;!here|here&gt; then <@U0BOB|bob> in <#C123|ops>"
    )
    assert text_safety.slack_text("a < b > c", people=True) == "a &lt; b &gt; c"
    assert text_safety.slack_link("https://x/?q=<a>|b", "run|book <x>") == "<https://x/?q=%3Ca%3E%7Cb|run¦book &lt;x&gt;>"


def test_alert_and_note_text_is_escaped_in_posts_and_summary(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="<!channel> checkout <down> & out", severity=Severity.P1, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    slack.service.add_note(number, "paging <!here>, <@U0BOB|bob> is on it", actor="<@U0ALICE|alice>", source=Source.SLACK)
    drive(slack, clock)
    with slack.sessions() as session:
        channel = str(IncidentRepository.get_row(session, number).chat_channel_id)
    texts = [m.get("text", "") for m in fake_slack.messages(channel)]
    note = next(t for t in texts if "paging" in t)
    assert "&lt;!here&gt;" in note and "<!here>" not in note and "<@U0BOB|bob>" in note
    summary = texts[0]
    assert "&lt;!channel&gt; checkout &lt;down&gt; &amp; out" in summary and "<!channel>" not in summary
    topics = [call.params.get("topic", "") for call in fake_slack.calls("conversations.setTopic")]
    assert topics and all("<!channel>" not in topic for topic in topics)


def test_timeline_pages_are_posted_as_rendered_blocks(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="Search slow", severity=Severity.P2, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    drive(slack, clock)
    context = CommandContext(actor="<@U0ALICE|alice>", source=Source.SLACK, channel_incident=number)
    slack.commands.handle("/incident timeline", context)
    drive(slack, clock)
    with slack.sessions() as session:
        channel = str(IncidentRepository.get_row(session, number).chat_channel_id)
    pages = [m for m in fake_slack.messages(channel) if m.get("blocks") and "Search slow" in str(m["blocks"]) and "declared" in str(m["blocks"])]
    assert pages, [m.get("text") for m in fake_slack.messages(channel)]
    assert all(block["type"] in ("section", "context", "header", "divider") for block in pages[-1]["blocks"])
    # The person who declared shows as a readable name that pings nobody, not as raw markup.
    shown = "\n".join(str(obj["text"]) for obj in mrkdwn_objects(pages[-1]["blocks"]))
    assert "*@alice*" in shown, shown
    assert "&lt;@U0ALICE" not in shown and "<@U0ALICE" not in shown and "U0ALICE" not in shown


def test_typed_slash_command_text_is_unescaped_once() -> None:
    from bot.chat.slack.commands import unescape

    assert unescape("note p99 &gt; 2s &amp;&amp; errors &lt;1%") == "note p99 > 2s && errors <1%"
    assert unescape("&amp;lt;") == "&lt;"  # one level only: what the person typed
    # Markup typed by hand is not markup: only Slack writes a mention unescaped.
    assert unescape("&lt;@U0BOB|alice&gt; &lt;#C0X&gt; &lt;!here&gt; <@U0CAROL|carol>") == (
        "<\u2060@U0BOB|alice> <\u2060#C0X> <\u2060!here> <@U0CAROL|carol>"
    )
    # A control or bidi character between is dropped before posting: it must not hide the "@".
    for hidden in ("\u202e", "\u2066", "\x1b", "\x9b"):
        assert unescape(f"&lt;{hidden}@U0BOB|alice&gt;") == "<\u2060@U0BOB|alice>", repr(hidden)
    assert text_safety.slack_text(unescape("p99 &gt; 2s <!channel>"), people=True) == "p99 &gt; 2s &lt;!channel&gt;"


HOSTILE_DESCRIPTION = "db down <@U0VICTIM> see <#C0SECRET> <!here> <https://evil.example|click> \x1b[2J\u202egnp.exe"


def mrkdwn_objects(value: Any) -> list[dict[str, Any]]:
    """Every mrkdwn text object in a Block Kit structure."""
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            found.append(value)
        for item in value.values():
            found.extend(mrkdwn_objects(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(mrkdwn_objects(item))
    return found


def test_alert_text_mentions_links_and_unfurls_nothing(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    links = {"runbook": "https://runbooks.example/db?x=<a>|b", "dashboard": "javascript:alert(1)", "source": "data:text/html,x"}
    number = slack.service.declare(
        title="<!channel> DB \u202edown", severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER,
        description=HOSTILE_DESCRIPTION, links=links,
    ).number
    slack.service.add_note(number, "PD says <@U0VICTIM> <!subteam^S0ALL>", actor="PagerDuty", source=Source.PAGERDUTY)
    drive(slack, clock)
    posts = fake_slack.calls("chat.postMessage", ok=True)
    assert posts
    for call in posts:
        everything = str(call.params)
        assert "<@U0VICTIM>" not in everything and "<#C0SECRET>" not in everything and "<!here>" not in everything
        assert "<!subteam" not in everything and "<!channel>" not in everything and "<https://evil" not in everything
        assert "\x1b" not in everything and "\u202e" not in everything
        assert call.params.get("unfurl_links") in (False, "false", "0", 0) and call.params.get("unfurl_media") in (False, "false", "0", 0)
        blocks = call.params.get("blocks")
        parsed = json.loads(blocks) if isinstance(blocks, str) else blocks
        assert parsed and all(obj.get("verbatim") is True for obj in mrkdwn_objects(parsed))
    summary = str(posts[0].params)
    assert "<https://runbooks.example/db?x=%3Ca%3E%7Cb|runbook>" in summary
    assert "javascript:" not in summary and "data:text" not in summary
    bookmarks = [call.params["link"] for call in fake_slack.calls("bookmarks.add")]
    assert bookmarks == ["https://runbooks.example/db?x=%3Ca%3E%7Cb"]


@pytest.mark.parametrize("description", ["\u202e", "\x1b\u202e\u2066", "\x1b\x07\x9b"])
def test_a_description_of_only_control_characters_still_gets_its_pinned_summary(
    description: str, slack: Container, fake_slack: FakeSlack, clock: FrozenClock
) -> None:
    """Made safe, such a description is empty, and Slack refuses an empty section: the summary
    (and its buttons) must come without it rather than not at all."""
    number = slack.service.declare(
        title="Disk full", severity=Severity.P1, actor="alertmanager", source=Source.ALERTMANAGER, description=description
    ).number
    drive(slack, clock)
    failed = [(row.operation, row.last_error) for row in outbox(slack) if row.status != "delivered"]
    assert failed == []
    summary = fake_slack.messages(channel_of(slack, number))[0]
    assert "Disk full" in str(summary["blocks"]) and any(block["type"] == "actions" for block in summary["blocks"])
    assert fake_slack.calls("pins.add", ok=True)


@pytest.mark.parametrize("actor", ["<@U0VICTIM>", "<@U0VICTIM|boss>", "U0VICTIM", "<!here>"])
def test_an_outside_senders_actor_mentions_nobody(actor: str, slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    """A PagerDuty agent's display name is whatever they typed in PagerDuty: shown as text,
    never as a Slack mention that pings someone and presents them as the author."""
    number = slack.service.declare(title="API slow", severity=Severity.P2, actor="alertmanager", source=Source.ALERTMANAGER).number
    slack.service.add_note(number, "looking", actor=actor, source=Source.PAGERDUTY)
    drive(slack, clock)
    note = next(m for m in fake_slack.messages(channel_of(slack, number)) if "looking" in m.get("text", ""))
    shown = str(note["blocks"]) + note["text"]
    assert "<@U0VICTIM" not in shown and "<!here>" not in shown
    assert "U0VICTIM" in shown or "here" in shown  # still named, as text


def test_a_person_typing_in_slack_keeps_their_mentions(slack: Container, fake_slack: FakeSlack, clock: FrozenClock) -> None:
    number = slack.service.declare(title="API slow", severity=Severity.P2, actor="<@U0ALICE|alice>", source=Source.SLACK).number
    slack.service.add_note(number, "<@U0BOB|bob> please look, <!channel>", actor="<@U0ALICE|alice>", source=Source.SLACK)
    drive(slack, clock)
    note = next(m for m in fake_slack.messages(channel_of(slack, number)) if "please look" in m.get("text", ""))
    assert "<@U0BOB|bob>" in str(note["blocks"]) and "<!channel>" not in str(note)


def test_console_list_and_status_show_no_escape_sequences(container: Container) -> None:
    number = container.service.declare(
        title="\x1b]0;pwned\x07evil\u2066title\u2069 \u200d ok", severity=Severity.P2, actor="am", source=Source.ALERTMANAGER,
        description="line one\r\n\x9b31mline two\u202a", links={"bad": "javascript:alert(1)", "good": "https://g.example/d"},
    ).number
    now = container.clock.now()
    with container.sessions() as session:
        incident = IncidentRepository.get(session, number)
    shown = render.incident_table([incident], now=now) + render.summary(incident, now=now)
    for bad in ("\x1b", "\x07", "\x9b", "\u2066", "\u2069", "\u202a", "\r", "javascript:"):
        assert bad not in shown
    assert "\u200d" in shown and "https://g.example/d" in shown and "line one\n  31mline two" in shown
    out = io.StringIO()
    print_line(out, "#inc", "a\x1b[31mb\u202ec")
    assert out.getvalue() == "[#inc] a[31mbc\n"


def test_json_export_keeps_the_raw_text_and_markdown_does_not(container: Container) -> None:
    raw = "<@U0VICTIM> \x1b[31m\u202eraw"
    number = container.service.declare(title="t", severity=Severity.P2, actor="am", source=Source.ALERTMANAGER, description=raw).number
    exporter = Exporter(container.sessions)
    assert raw in json.loads(exporter.render(number, "json"))["incident"]["description"]
    markdown = exporter.render(number, "md")
    assert "\x1b" not in markdown and "\u202e" not in markdown


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*"ab<>&|@!#:/ \n\t", "\x1b", "\x9b", "\u202e", "\u2067", "\u200d", "\u2060", "channel", "U0X", "https"]), max_size=40).map("".join))
@example("<<@U0X|b>>")  # markup nested in brackets: reading out the inner left new markup
def test_neutralised_text_has_no_markup_controls_or_bidi(text: str) -> None:
    for shown in (text_safety.slack_text(text), text_safety.readable(text), text_safety.one_line(text), text_safety.clean(text)):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", shown)
        assert text.count("\u200d") == shown.count("\u200d")
    assert "<" not in text_safety.slack_text(text) and ">" not in text_safety.slack_text(text)
    assert not re.search(r"@(channel|here|everyone)\b", text_safety.slack_text(text))
    # No scheme://: a bare "://" with no scheme before it is no link anywhere.
    assert not re.search(r"<[@#!][^<>]*>", text_safety.readable(text))
    assert not re.search(r"[A-Za-z][A-Za-z0-9+.-]*://", text_safety.readable(text))


def test_the_post_mortem_file_title_is_plain_text_without_controls_or_bidi() -> None:
    from bot.export.chat import upload_payload

    title = upload_payload(1, "INC-1", "Big \u202edesc\x1b[31m\x07" + "x" * 400, "content", reason="resolved")["title"]
    assert not any(ch in title for ch in ("\u202e", "\x1b", "\x07"))
    assert title.startswith("Post-mortem draft: INC-1 — Big desc") and len(title) <= 250


def test_incidents_show_prints_imported_step_text_without_escape_sequences() -> None:
    from datetime import UTC, datetime

    from bot.chat.render import incident_details
    from bot.domain.incident import Incident
    from bot.domain.severity import Severity
    from bot.playbooks.guide import StepState

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    incident = Incident.declare(number=1, title="Disk full", severity=Severity.P2, actor="alice", source=Source.CONSOLE, at=now)[0]
    step = StepState(
        number=1, phase_index=0, phase_kind="diagnosis", phase_title="Diagnosis", text="Check \x1b[2J\u202edisk", status="done",
        actor="bob\x1b]8;;http://evil\x07", at=now,
    )
    shown = incident_details(incident, steps=("disk\x1b[31m-full", [step]), entries=[], hidden=0, now=now)
    assert not any(ch in shown for ch in ("\x1b", "\x07", "\u202e"))
    assert "Check [2Jdisk" in shown and "by bob]8;;http://evil at" in shown
