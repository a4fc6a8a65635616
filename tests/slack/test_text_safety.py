"""Text we did not write cannot ping a channel or break Slack markup."""

from __future__ import annotations

from bot.chat.commands import CommandContext
from bot.chat.slack.text import link, safe
from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.store.incidents import IncidentRepository
from tests.fakes.slack_api import FakeSlack
from tests.slack.conftest import drive


def test_safe_keeps_person_and_channel_mentions_only() -> None:
    assert safe("ping <!channel> & <!here|here> then <@U0BOB|bob> in <#C123|ops>") == (
        "ping &lt;!channel&gt; &amp; &lt;!here|here&gt; then <@U0BOB|bob> in <#C123|ops>"
    )
    assert safe("a < b > c") == "a &lt; b &gt; c"
    assert link("https://x/?q=<a>|b", "run|book <x>") == "<https://x/?q=%3Ca%3E%7Cb|run¦book &lt;x&gt;>"


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


def test_typed_slash_command_text_is_unescaped_once() -> None:
    from bot.chat.slack.commands import unescape

    assert unescape("note p99 &gt; 2s &amp;&amp; errors &lt;1%") == "note p99 > 2s && errors <1%"
    assert unescape("&amp;lt;") == "&lt;"  # one level only: what the person typed
    assert safe(unescape("p99 &gt; 2s <!channel>")) == "p99 &gt; 2s &lt;!channel&gt;"
