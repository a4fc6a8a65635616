"""Safe by construction: hostile text from alerts and people is shown as text on every page,
every answer carries the strict CSP, and no page has inline script or style."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from bot.container import Container
from bot.webview.security import CSP
from tests.export.scenario import HOSTILE_NOTE, build_incident
from tests.webview.conftest import add_incidents

HOSTILE_TITLE = '"><script>alert("title")</script><img src=x onerror=alert(2)>'
HOSTILE_SERVICE = "<svg onload=alert(3)>"


@pytest.fixture
def hostile(web: Container) -> int:
    number = build_incident(web).number
    add_incidents(web, 1, title=HOSTILE_TITLE, labels={"service": HOSTILE_SERVICE}, roles={"commander": "<b>mallory</b>"})
    return number


def pages(number: int) -> list[str]:
    return ["/", "/?q=%3Cscript%3E", f"/incidents/{number}", f"/incidents/{number + 1}", f"/incidents/{number}/postmortem", "/insights"]


def test_hostile_text_appears_as_text_on_every_page(client: TestClient, hostile: int) -> None:
    bodies = {path: client.get(path).text for path in pages(hostile)}
    everything = "\n".join(bodies.values())
    for raw in ["<script>alert", "<img src=x", "<svg onload", "<b>mallory</b>", 'href="javascript:', "onerror=alert(2)>"]:
        assert raw not in everything
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bodies[f"/incidents/{hostile}"]
    assert "&lt;svg onload=alert(3)&gt;" in bodies["/"]
    assert "&lt;b&gt;mallory&lt;/b&gt;" in bodies["/"]
    assert "&#34;&gt;&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in bodies[f"/incidents/{hostile + 1}"]
    assert "[x](javascript:alert(1))" in bodies[f"/incidents/{hostile}"], "markdown link syntax stays text"


def test_hostile_text_in_live_and_load_more_fragments_is_escaped(client: TestClient, hostile: int) -> None:
    live = client.get(f"/incidents/{hostile}/live", params={"after": 0}).json()
    assert "<script>alert" not in live["entries"] + live["summary"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in live["entries"]
    assert HOSTILE_NOTE.split("\n")[0] not in live["entries"]


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser would parse the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(body: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(body)
    return parser.tags


def test_no_inline_script_or_style_and_only_our_own_assets(client: TestClient, hostile: int) -> None:
    for path in pages(hostile):
        tags = tags_of(client.get(path).text)
        assert [attrs for tag, attrs in tags if tag == "script"] == [{"src": "/static/app.js", "defer": None}], path
        assert not [tag for tag, _ in tags if tag == "style"], path
        inline = [(tag, name) for tag, attrs in tags for name in attrs if name == "style" or name.startswith("on")]
        assert inline == [], path
        loaded = [attrs.get("src") or attrs.get("href") for tag, attrs in tags if tag in ("script", "link", "img")]
        assert all(str(url).startswith("/static/") for url in loaded), path
        links = [str(attrs.get("href")) for tag, attrs in tags if tag == "a"]
        assert not [href for href in links if href.lower().startswith("javascript:")], path


def test_the_sign_in_page_has_no_inline_code_either(anonymous: TestClient) -> None:
    tags = tags_of(anonymous.get("/signin").text)
    assert [attrs for tag, attrs in tags if tag == "script"] == [{"src": "/static/app.js", "defer": None}]
    assert not [name for _, attrs in tags for name in attrs if name == "style" or name.startswith("on")]
    assert ("input", {"type": "hidden", "name": "csrf", "value": tags[[t for t, _ in tags].index("input")][1]["value"]}) in tags


def test_every_answer_carries_the_strict_csp(client: TestClient, anonymous: TestClient, hostile: int) -> None:
    answers = [client.get(path) for path in pages(hostile)]
    answers += [client.get("/static/app.css"), client.get("/static/app.js"), client.get(f"/incidents/{hostile}/live")]
    answers += [anonymous.get("/"), anonymous.get(f"/incidents/{hostile}/live"), client.get("/incidents/424242")]
    for response in answers:
        assert response.headers["content-security-policy"] == CSP, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP and "style-src 'self'" in CSP


def test_static_assets_are_ours_with_their_types(client: TestClient) -> None:
    css = client.get("/static/app.css")
    assert css.headers["content-type"].startswith("text/css")
    js = client.get("/static/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
    assert client.get("/static/..%2Fsettings.py").status_code == 404
    assert client.get("/static/nothing.js").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nonexistent", 404),
        ("GET", "/static/../x", 404),
        ("GET", "/static/nope.css", 404),
        ("GET", "/static/app.css/", 307),
        ("POST", "/", 405),
        ("GET", "/healthz", 200),
    ],
)
def test_every_answer_of_the_process_carries_the_security_headers(anonymous: TestClient, method: str, path: str, status: int) -> None:
    """Unknown paths, Starlette's own redirects and other routes' answers too, not only the pages."""
    response = anonymous.request(method, path)
    assert response.status_code == status
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


RLO = "\u202e"
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", RLO, "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"]


def test_bidi_controls_never_reach_a_page_but_stay_in_the_json(web: Container, client: TestClient) -> None:
    """U+202E would turn the rest of a line around ("invoice\u202etxt.exe"); pages drop it, the data keeps it."""
    from bot.domain.severity import Severity
    from bot.domain.timeline import Source

    title = f"invoice{RLO}gpj.exe \u2066isolated\u2069 \u200fmark"
    number = web.service.declare(title=title, severity=Severity.P2, actor=f"eve{RLO}", source=Source.CONSOLE, labels={"service": f"pay{RLO}ments"}).number
    web.service.add_note(number, f"note {RLO}desrever", actor="alice", source=Source.CONSOLE)
    bodies = {path: client.get(path).text for path in ["/", f"/incidents/{number}", f"/incidents/{number}/postmortem", "/insights"]}
    bodies["live"] = str(client.get(f"/incidents/{number}/live", params={"after": 0}).json())
    for path, body in bodies.items():
        assert not [char for char in BIDI if char in body], path
    assert "invoicegpj.exe" in bodies[f"/incidents/{number}"]
    assert "note desrever" in bodies[f"/incidents/{number}"]
    raw = client.get(f"/incidents/{number}/postmortem/download.json").text
    assert RLO in raw or "\\u202e" in raw, "the JSON download is data and keeps the text as sent"


def test_chart_labels_lose_bidi_controls_too() -> None:
    from bot.webview import svg

    drawn = svg.horizontal_bars([(f"group{RLO}1", 3.0)], lambda value: f"{value:g}", title="t", desc="d", chart_id="c", css="bar-noise")
    assert RLO not in drawn
    assert "group1" in drawn
