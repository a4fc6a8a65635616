"""What the pages show: filters and paging of the list, one incident, its timeline pages,
the live parts, the post-mortem downloads and the insights' exclusions."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from bot.container import Container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import EntryKind, Source, TimelineEntry
from bot.export.service import Exporter
from bot.store.incidents import IncidentRepository
from bot.store.models import IncidentRow
from bot.webview.filters import PAGE_SIZE
from bot.webview.incident_query import CHILDREN_SHOWN, TIMELINE_PAGE
from bot.webview.insights import build as build_insights
from tests.export.scenario import build_incident
from tests.webview.conftest import add_incidents

_ROW = re.compile(r'<a href="/incidents/(\d+)">INC-\d+</a>')


def listed(client: TestClient, query: str = "") -> list[int]:
    response = client.get("/" + (f"?{query}" if query else ""))
    assert response.status_code == 200
    return [int(number) for number in _ROW.findall(response.text)]


def test_open_incidents_come_first_then_the_newest(web: Container, client: TestClient) -> None:
    old_open = add_incidents(web, 1, title="old and open")[0]
    closed = add_incidents(web, 2, status="resolved")
    new_open = add_incidents(web, 1, title="new and open")[0]
    assert listed(client) == [new_open, old_open, *reversed(closed)]


def test_filters_by_status_severity_service_label_and_text(web: Container, client: TestClient) -> None:
    p1 = add_incidents(web, 1, severity="P1", labels={"service": "checkout", "team": "payments"}, title="Checkout is down")[0]
    p2 = add_incidents(web, 1, severity="P2", labels={"service": "search"}, title="Search slow", status="acknowledged")[0]
    done = add_incidents(web, 1, severity="P2", status="resolved", title="Old search outage")[0]
    assert listed(client, "severity=P1") == [p1]
    assert listed(client, "status=acknowledged") == [p2]
    assert listed(client, "status=open") == [p2, p1]
    assert listed(client, "status=resolved") == [done]
    assert listed(client, "service=search") == [p2]
    assert listed(client, "label=team%3Dpayments") == [p1]
    assert listed(client, "q=SEARCH") == [p2, done]
    assert listed(client, f"q=INC-{p1}") == [p1]
    assert listed(client, "q=100%25") == [], "% is matched literally, not as a wildcard"


def test_filters_by_date_in_the_configured_zone(web: Container, client: TestClient, clock: FrozenClock) -> None:
    today = add_incidents(web, 1)[0]
    earlier = add_incidents(web, 1, created_at=clock.now() - timedelta(days=3))[0]
    day = clock.now().date()
    assert listed(client, f"since={day.isoformat()}") == [today]
    assert listed(client, f"until={(day - timedelta(days=1)).isoformat()}") == [earlier]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("severity=P9", "Unknown severity &#39;P9&#39;: choose one of P0, P1, P2, P3, INFO."),
        ("status=bogus", "Unknown status &#39;bogus&#39;"),
        ("since=2026-13-45", "From &#39;2026-13-45&#39; is not a date"),
        ("from=2026-13-45", "From &#39;2026-13-45&#39; is not a date"),
        ("from=notadate", "From &#39;notadate&#39; is not a date"),
        ("until=yesterday", "Until &#39;yesterday&#39; is not a date"),
        ("page=-3", "Page &#39;-3&#39; is not a page number"),
        ("page=0", "Page &#39;0&#39; is not a page number"),
        ("page=two", "Page &#39;two&#39; is not a page number"),
        ("label=nolabel", "Write the label filter as name=value"),
        ("until=9999-12-31", "Until &#39;9999-12-31&#39; is outside the calendar shown"),
        ("since=0001-01-01", "From &#39;0001-01-01&#39; is outside the calendar shown"),
    ],
)
def test_a_bad_filter_value_answers_400_saying_why_and_lists_nothing(web: Container, client: TestClient, query: str, says: str) -> None:
    add_incidents(web, 2)
    response = client.get(f"/?{query}")
    assert response.status_code == 400
    assert says in response.text
    assert _ROW.findall(response.text) == [], "a filter not understood lists nothing rather than everything"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("query", ["q=%00", "service=a%00b", "label=team%3D%00", "q=%ED%A0%80"])
def test_text_no_database_can_compare_finds_nothing_rather_than_failing(web: Container, client: TestClient, query: str) -> None:
    """A NUL in a search was a DataError (500) on PostgreSQL."""
    add_incidents(web, 2)
    response = client.get(f"/?{query}")
    assert response.status_code == 200 and _ROW.findall(response.text) == []


def test_from_and_to_are_taken_as_since_and_until(web: Container, client: TestClient, clock: FrozenClock) -> None:
    today = add_incidents(web, 1)[0]
    add_incidents(web, 1, created_at=clock.now() - timedelta(days=3))
    assert listed(client, f"from={clock.now().date().isoformat()}") == [today]


def test_drills_are_hidden_unless_asked_for(web: Container, client: TestClient) -> None:
    real = add_incidents(web, 1)[0]
    drill = add_incidents(web, 1, drill=True)[0]
    assert listed(client) == [real]
    assert listed(client, "drills=1") == [drill, real]


def test_the_list_is_paged_and_pages_keep_the_filters(web: Container, client: TestClient) -> None:
    numbers = add_incidents(web, PAGE_SIZE * 2 + 3, severity="P3")
    add_incidents(web, 4, severity="P1")
    first = client.get("/?severity=P3")
    assert f"{PAGE_SIZE * 2 + 3} incidents, page 1 of 3" in first.text
    assert 'href="/?severity=P3&amp;page=2"' in first.text
    newest_first = list(reversed(numbers))
    assert listed(client, "severity=P3") == newest_first[:PAGE_SIZE]
    assert listed(client, "severity=P3&page=2") == newest_first[PAGE_SIZE : PAGE_SIZE * 2]
    assert listed(client, "severity=P3&page=3") == newest_first[PAGE_SIZE * 2 :]


def test_the_incident_page_shows_people_steps_escalation_alerts_and_timeline(web: Container, client: TestClient) -> None:
    incident = build_incident(web)
    page = client.get(f"/incidents/{incident.number}").text
    assert f"INC-{incident.number}" in page
    assert "dave" in page  # commander at the end of the scenario
    assert "CheckoutErrors" in page and "PaymentsLatency|p99" in page
    assert "Escalation" in page and "level" in page
    assert f'href="/incidents/{incident.number}/postmortem"' in page
    assert "playbook checkout-errors attached" in page
    # newest first: the resolution comes before the declaration
    assert page.index("INC-1 resolved") < page.index("declared: ")


def test_an_unknown_or_malformed_incident_is_a_404_page(client: TestClient) -> None:
    for path in ["/incidents/999", "/incidents/abc", "/incidents/999/postmortem", "/incidents/0"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text


def test_the_timeline_loads_older_entries_a_page_at_a_time(web: Container, client: TestClient) -> None:
    number = web.service.declare(title="chatty", severity=Severity.P2, actor="a", source=Source.CONSOLE).number
    for index in range(TIMELINE_PAGE * 2 + 5):
        web.service.add_note(number, f"note {index:03d}", actor="a", source=Source.CONSOLE)
    page = client.get(f"/incidents/{number}").text
    shown = re.findall(r"note (\d{3})", page)
    assert shown[0] == f"{TIMELINE_PAGE * 2 + 4:03d}" and len(shown) == TIMELINE_PAGE
    cursor = re.search(r'data-cursor="([^"]+)"', page)
    assert cursor is not None
    seen = list(shown)
    next_cursor: str | None = cursor.group(1)
    while next_cursor:
        more = client.get(f"/incidents/{number}/timeline", params={"before": next_cursor})
        assert more.status_code == 200
        seen += re.findall(r"note (\d{3})", more.text)
        next_cursor = more.headers["x-next-cursor"] or None
    assert seen == [f"{index:03d}" for index in reversed(range(TIMELINE_PAGE * 2 + 5))]
    # without the script: the link is a plain page of older entries
    no_script = client.get(f"/incidents/{number}", params={"before": cursor.group(1)}).text
    assert re.findall(r"note (\d{3})", no_script)[0] == f"{TIMELINE_PAGE + 4:03d}"


@pytest.mark.parametrize(
    "cursor",
    ["2026-01-01T00:00:00~99999999999999999999999", "0001-01-01T00:00:00+01:00~1", "9999-12-31T23:59:59-14:00~1", "2026-01-01T00:00:00~-1"],
)
def test_a_cursor_no_page_could_have_made_is_not_found(web: Container, client: TestClient, cursor: str) -> None:
    """Hand-made "load more" cursors: an id past the database's integers or a time no
    database time can be compared with. The fragment is not found; the page starts at the top."""
    number = web.service.declare(title="cursor", severity=Severity.P2, actor="a", source=Source.CONSOLE).number
    assert client.get(f"/incidents/{number}/timeline", params={"before": cursor}).status_code == 404
    page = client.get(f"/incidents/{number}", params={"before": cursor})
    assert page.status_code == 200 and "declared" in page.text


def test_live_parts_carry_only_entries_newer_than_the_page(web: Container, client: TestClient) -> None:
    number = web.service.declare(title="live", severity=Severity.P2, actor="a", source=Source.CONSOLE).number
    first = client.get(f"/incidents/{number}/live", params={"after": 0}).json()
    web.service.acknowledge(number, actor="bob", source=Source.SLACK)
    web.service.add_note(number, "looking at the database", actor="bob", source=Source.SLACK)
    later = client.get(f"/incidents/{number}/live", params={"after": first["newest"]}).json()
    assert later["marker"] != first["marker"]
    assert later["count"] == 2
    assert "looking at the database" in later["entries"] and "declared" not in later["entries"]
    assert "acknowledged" in later["summary"]
    assert later["newest"] > first["newest"]
    assert client.get(f"/incidents/{number}/live", params={"after": "x"}).status_code == 404


def test_post_mortem_page_and_downloads_match_the_export(web: Container, client: TestClient) -> None:
    incident = build_incident(web)
    page = client.get(f"/incidents/{incident.number}/postmortem")
    assert page.status_code == 200
    assert "Key figures" in page.text and "Action items" in page.text
    markdown = client.get(f"/incidents/{incident.number}/postmortem/download.md")
    assert markdown.status_code == 200
    assert markdown.headers["content-disposition"] == f'attachment; filename="INC-{incident.number}-postmortem.md"'
    exporter = Exporter(web.sessions, clock=web.clock, zone=web.settings.zone, public_url=web.settings.public_url)
    assert markdown.text == exporter.render(incident.number, "md")
    exported = json.loads(client.get(f"/incidents/{incident.number}/postmortem/download.json").text)
    assert exported["incident"]["number"] == incident.number
    assert exported["timeline"][-1]["text"] == "INC-1 resolved"
    assert client.get(f"/incidents/{incident.number}/postmortem/download.pdf").status_code == 404


def test_insights_leave_out_drills_and_merged_incidents(web: Container, client: TestClient) -> None:
    add_incidents(web, 3, severity="P1", title="counted")
    add_incidents(web, 5, severity="P0", drill=True)
    target = add_incidents(web, 1, severity="P2")[0]
    add_incidents(web, 7, severity="P0", merged_into=target)
    page = client.get("/insights").text
    assert "4 incidents" in page
    assert "<svg" in page and 'role="img"' in page
    with web.sessions() as session:
        figures = build_insights(session, now=web.clock.now())
    assert sum(figures.per_week["P0"]) == 0, "every P0 was a drill or merged"
    assert (sum(figures.per_week["P1"]), sum(figures.per_week["P2"])) == (3, 1)


def test_a_merged_incident_says_where_it_went(web: Container, client: TestClient) -> None:
    target = add_incidents(web, 1)[0]
    merged = add_incidents(web, 1)[0]
    with web.sessions.begin() as session:
        session.execute(update(IncidentRow).where(IncidentRow.id == merged).values(merged_into=target))
    assert f'merged into <a href="/incidents/{target}">INC-{target}</a>' in client.get("/").text
    assert listed(client, "status=open") == [target]


def test_the_post_mortem_page_says_where_moved_alert_groups_went(web: Container, client: TestClient) -> None:
    """The markdown export named the incident a split-off group went to; the page said nothing."""
    parent, other = add_incidents(web, 2)
    split = TimelineEntry(
        kind=EntryKind.SPLIT, at=web.clock.now(), actor="alice", source=Source.CONSOLE, text="split", data={"child": 2, "into": other}
    )
    with web.sessions.begin() as session:
        IncidentRepository.append(session, parent, [split])
    page = client.get(f"/incidents/{parent}/postmortem").text
    assert f'Alert group #2 was split off into <a href="/incidents/{other}/postmortem">INC-{other}</a>' in page


def test_the_post_mortem_links_to_the_incident_page(web: Container, client: TestClient) -> None:
    incident = build_incident(web)
    markdown = client.get(f"/incidents/{incident.number}/postmortem/download.md").text
    assert f"(https://firebreak.example.com/incidents/{incident.number})" in markdown
    exported = json.loads(client.get(f"/incidents/{incident.number}/postmortem/download.json").text)
    assert exported["incident"]["web_url"] == f"https://firebreak.example.com/incidents/{incident.number}"


def test_the_pinned_summary_links_to_the_incident_page(web: Container) -> None:
    from bot.chat.slack.blocks import summary_blocks

    incident = build_incident(web)
    url = f"https://firebreak.example.com/incidents/{incident.number}"
    context = [block for block in summary_blocks(incident, web_url=url) if block["type"] == "context"]
    assert f"<{url}|web page>" in context[0]["elements"][0]["text"]
    plain = [block for block in summary_blocks(incident) if block["type"] == "context"]
    assert "web page" not in plain[0]["elements"][0]["text"]


def test_insights_take_medians_of_the_response_times_per_week_and_service(web: Container, clock: FrozenClock) -> None:
    opened = clock.now()
    for minutes, service in ((2, "checkout"), (4, "checkout"), (30, "search")):
        add_incidents(
            web,
            1,
            labels={"service": service},
            acknowledged_at=opened + timedelta(minutes=minutes),
            resolved_at=opened + timedelta(minutes=10 * minutes),
            status="resolved",
        )
    with web.sessions() as session:
        figures = build_insights(session, now=opened)
    assert figures.times_per_week["acknowledge"][-1] == 4 * 60
    assert figures.times_per_week["resolve"][-1] == 40 * 60
    assert figures.times_per_week["detect"][-1] is None, "no alerts, so nothing to detect from"
    per_service = {name: (times, count) for name, times, count in figures.times_per_service}
    assert per_service["checkout"] == ({"detect": None, "acknowledge": 3 * 60, "resolve": 30 * 60}, 2)
    assert per_service["search"][1] == 1


def test_the_icon_is_ours_and_linked_so_no_page_asks_for_a_missing_favicon(client: TestClient, anonymous: TestClient) -> None:
    icon = anonymous.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    assert anonymous.get("/static/favicon.svg").content == icon.content
    for page in [client.get("/"), client.get("/insights"), anonymous.get("/signin")]:
        assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page.text


def test_a_storm_incident_lists_its_first_alert_groups_and_counts_the_rest(web: Container, client: TestClient) -> None:
    """A storm incident holds a group per alert group that fired: thousands in a big outage.
    The page and its live summary (asked for on every change while the storm goes on) list
    the first ``CHILDREN_SHOWN`` and count the others, instead of rendering every group on
    the event loop once a second per open page."""
    from bot.store.models import AlertGroupRow, AlertRow

    [number] = add_incidents(web, 1, title="Alert storm")
    now = web.clock.now()
    total = CHILDREN_SHOWN * 3
    with web.sessions.begin() as session:
        groups = [
            AlertGroupRow(
                incident_id=number,
                child_number=index + 1,
                dedup_key=f"am:storm-{index}",
                source="alertmanager",
                title=f"storm group {index + 1:04d}",
                labels={},
                correlation={},
                severity="P2",
                status="firing",
                joined_by="storm",
                joined_at=now,
                resolved_at=None,
            )
            for index in range(total)
        ]
        session.add_all(groups)
        session.flush()
        session.add(
            AlertRow(
                incident_id=number, group_id=groups[0].id, fingerprint="f1", status="firing", labels={"alertname": "Down"}, annotations={},
                starts_at=now, ends_at=None, generator_url=None, first_seen_at=now, updated_at=now,
            )
        )
    for path in (f"/incidents/{number}", f"/incidents/{number}/live?after=0"):
        response = client.get(path)
        assert response.status_code == 200
        body = response.text if path.endswith(str(number)) else response.json()["summary"]
        shown = re.findall(r"storm group (\d{4})", body)
        assert shown == [f"{index + 1:04d}" for index in range(CHILDREN_SHOWN)], path
        assert f"{total} alert groups, first {CHILDREN_SHOWN} shown" in body, path


def test_the_post_mortem_page_is_rendered_off_the_event_loop(web: Container, monkeypatch: pytest.MonkeyPatch) -> None:
    """The post-mortem page holds the whole timeline: 50,000 entries took 8 s to render. On
    the event loop that stopped every other answer of the process, webhooks and /healthz
    included, for as long; in a worker thread the process keeps answering."""
    import threading
    import time

    from bot.web import create_app
    from bot.webview.context import WebContext
    from tests.webview.conftest import sign_in

    [number] = add_incidents(web, 1, title="Big incident")
    rendering, release = threading.Event(), threading.Event()
    render = WebContext.render

    def slow_render(self: WebContext, request, template: str, **values):  # type: ignore[no-untyped-def]
        if template == "postmortem.html":
            rendering.set()
            release.wait(10)
        return render(self, request, template, **values)

    monkeypatch.setattr(WebContext, "render", slow_render)
    with TestClient(create_app(web, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver") as client:
        sign_in(client)
        answers: list[int] = []
        page = threading.Thread(target=lambda: answers.append(client.get(f"/incidents/{number}/postmortem").status_code))
        page.start()
        try:
            assert rendering.wait(10)
            began = time.monotonic()
            assert client.get("/healthz").status_code == 200
            assert time.monotonic() - began < 5, "the health check waited for the page to render"
        finally:
            release.set()
            page.join(20)
    assert answers == [200]
