"""Sign-in: nothing is readable without it, forms are CSRF-safe, the proxy header is believed
only from the proxy, and sign-out ends the session."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.domain.severity import Severity
from bot.domain.timeline import Source
from bot.web import create_app
from bot.webview import sessions
from bot.webview.signin import safe_next
from tests.conftest import make_settings
from tests.webview.conftest import PROXY, TOKEN, csrf_of, sign_in

PAGES = ["/", "/insights", "/incidents/1", "/incidents/1/postmortem"]
OTHERS = ["/incidents/1/timeline?before=2026-01-01T00:00:00%2B00:00~5", "/incidents/1/live?after=0", "/incidents/1/events", "/incidents/1/postmortem/download.md", "/incidents/1/postmortem/download.json"]


@pytest.fixture
def declared(web: Container) -> int:
    return web.service.declare(title="Secret outage", severity=Severity.P1, actor="alice", source=Source.CONSOLE).number


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_strangers_to_sign_in_and_show_nothing(anonymous: TestClient, declared: int, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")
    assert "Secret outage" not in response.text


@pytest.mark.parametrize("path", OTHERS)
def test_fragments_streams_and_downloads_answer_401_to_strangers(anonymous: TestClient, declared: int, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 401
    assert "Secret outage" not in response.text


def test_token_sign_in_opens_the_pages_and_names_the_user(client: TestClient, declared: int) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Secret outage" in page.text
    assert "Signed in as <strong>Dana</strong>" in page.text


def test_a_wrong_token_is_refused(anonymous: TestClient) -> None:
    csrf = csrf_of(anonymous.get("/signin").text)
    response = anonymous.post("/signin", data={"csrf": csrf, "token": TOKEN + "x"})
    assert response.status_code == 401
    assert anonymous.get("/").status_code == 303


def test_sign_in_without_the_session_csrf_token_is_refused(anonymous: TestClient) -> None:
    anonymous.get("/signin")
    assert anonymous.post("/signin", data={"csrf": "guessed", "token": TOKEN}).status_code == 403
    assert anonymous.post("/signin", data={"token": TOKEN}).status_code == 403
    assert anonymous.get("/").status_code == 303


def test_sign_in_from_another_origin_is_refused_even_with_the_token(anonymous: TestClient) -> None:
    csrf = csrf_of(anonymous.get("/signin").text)
    response = anonymous.post("/signin", data={"csrf": csrf, "token": TOKEN}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert anonymous.get("/").status_code == 303


def test_sign_in_with_a_json_body_is_refused(anonymous: TestClient) -> None:
    anonymous.get("/signin")
    assert anonymous.post("/signin", json={"token": TOKEN}).status_code == 403


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    assert client.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert client.get("/").status_code == 200
    csrf = csrf_of(client.get("/").text)
    response = client.post("/signout", data={"csrf": csrf})
    assert response.status_code == 303
    assert client.get("/").status_code == 303


def test_a_forged_or_tampered_cookie_is_no_session(web: Container, anonymous: TestClient) -> None:
    forged = sessions.encode(sessions.Session(csrf="x", user="mallory", expires=2**40), b"not-the-key" * 3)
    anonymous.cookies.set(sessions.COOKIE, forged)
    assert anonymous.get("/").status_code == 303
    body, signature = forged.split(".")
    anonymous.cookies.set(sessions.COOKIE, body + "x." + signature)
    assert anonymous.get("/").status_code == 303


def test_an_expired_session_is_no_session() -> None:
    key = b"k" * 32
    cookie = sessions.encode(sessions.Session(csrf="c", user="dana", expires=1000), key)
    assert sessions.decode(cookie, key, now=999) is not None
    assert sessions.decode(cookie, key, now=1001) is None


def test_next_after_sign_in_stays_on_this_site(anonymous: TestClient) -> None:
    csrf = csrf_of(anonymous.get("/signin").text)
    response = anonymous.post("/signin", data={"csrf": csrf, "token": TOKEN, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)", "", "evil"])
def test_only_paths_of_this_site_are_followed_after_sign_in(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/incidents/4?x=1") == "/incidents/4?x=1"


def test_the_proxy_header_is_believed_from_the_proxy_only(web: Container, declared: int) -> None:
    app = create_app(web, run_worker=False, migrate=False)
    via_proxy = TestClient(app, client=(PROXY, 40000), follow_redirects=False, base_url="https://testserver")
    page = via_proxy.get("/", headers={"X-Forwarded-User": "erin@example.com"})
    assert page.status_code == 200
    assert "erin@example.com" in page.text
    in_network = TestClient(app, client=("192.168.7.9", 40000), follow_redirects=False, base_url="https://testserver")
    assert in_network.get("/", headers={"X-Forwarded-User": "erin"}).status_code == 200
    stranger = TestClient(app, client=("10.9.9.9", 40000), follow_redirects=False, base_url="https://testserver")
    assert stranger.get("/", headers={"X-Forwarded-User": "erin@example.com"}).status_code == 303
    assert via_proxy.get("/").status_code == 303, "the proxy itself without a user header is nobody"


def test_a_request_naming_two_proxy_users_names_nobody(web: Container, declared: int) -> None:
    """A proxy that adds its header instead of replacing the browser's passes both on; the
    browser's (first) one must not sign anyone in."""
    app = create_app(web, run_worker=False, migrate=False)
    via_proxy = TestClient(app, client=(PROXY, 40000), follow_redirects=False, base_url="https://testserver")
    page = via_proxy.get("/", headers=[("X-Forwarded-User", "admin"), ("X-Forwarded-User", "erin@example.com")])
    assert page.status_code == 303, "neither name is believed"
    assert via_proxy.get("/incidents/1/live?after=0", headers=[("X-Forwarded-User", "admin"), ("X-Forwarded-User", "erin")]).status_code == 401


def test_the_proxy_user_is_shown_as_text(web: Container) -> None:
    app = create_app(web, run_worker=False, migrate=False)
    via_proxy = TestClient(app, client=(PROXY, 40000), base_url="https://testserver")
    page = via_proxy.get("/", headers={"X-Forwarded-User": "<img src=x onerror=alert(1)>"})
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<img src=x" not in page.text


def test_with_no_sign_in_configured_the_web_view_is_closed(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    built = build_container(make_settings(db_url), clock=clock, transcript_stream=io.StringIO(), engine=engine)
    built.service.declare(title="Secret outage", severity=Severity.P1, actor="alice", source=Source.CONSOLE)
    client = TestClient(create_app(built, run_worker=False, migrate=False), follow_redirects=False)
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 403
        assert "Secret outage" not in response.text
        assert "FIREBREAK_WEB_TOKEN" in response.text
    assert client.get("/signin").status_code == 403
    assert client.get("/incidents/1/live").status_code == 401


def test_session_cookies_are_http_only_lax_and_secure_behind_https(anonymous: TestClient) -> None:
    cookie = anonymous.get("/signin").headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" in cookie


def test_a_session_survives_a_restart_when_the_token_stays(web: Container, client: TestClient) -> None:
    """The key is derived from the token, so another process (or replica) accepts the cookie."""
    again = TestClient(create_app(web, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver")
    again.cookies.set(sessions.COOKIE, client.cookies[sessions.COOKIE])
    assert again.get("/").status_code == 200


def test_sign_in_helper_fails_loudly_with_a_wrong_token(anonymous: TestClient) -> None:
    with pytest.raises(AssertionError):
        sign_in(anonymous, token="wrong-token-wrong-token")


SECRET = "9b1d0c2e4f6a8b3d5e7f9a1c0123456789abcdef"


def _app_with(db_url: str, engine: Engine, clock: FrozenClock, token: str) -> TestClient:
    built = build_container(
        make_settings(db_url, FIREBREAK_WEB_TOKEN=token, FIREBREAK_WEB_SESSION_SECRET=SECRET),
        clock=clock,
        transcript_stream=io.StringIO(),
        engine=engine,
    )
    return TestClient(create_app(built, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver")


def test_a_new_token_signs_everyone_out_even_with_the_session_secret_kept(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    before = _app_with(db_url, engine, clock, TOKEN)
    sign_in(before)
    assert before.get("/").status_code == 200
    same = _app_with(db_url, engine, clock, TOKEN)
    same.cookies.set(sessions.COOKIE, before.cookies[sessions.COOKIE])
    assert same.get("/").status_code == 200, "same token and secret: the session stays"
    after = _app_with(db_url, engine, clock, "a-brand-new-token-0123456789")
    after.cookies.set(sessions.COOKIE, before.cookies[sessions.COOKIE])
    assert after.get("/").status_code == 303


def test_a_copy_of_the_cookie_is_refused_after_sign_out(web: Container, client: TestClient) -> None:
    """Sign-out is recorded on the server, so another tab, replica or a stolen copy is out too."""
    copy = TestClient(create_app(web, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver")
    copy.cookies.set(sessions.COOKIE, client.cookies[sessions.COOKIE])
    assert copy.get("/").status_code == 200
    assert client.post("/signout", data={"csrf": csrf_of(client.get("/").text)}).status_code == 303
    assert copy.get("/").status_code == 303
    assert copy.get("/incidents/1/live?after=0").status_code == 401
    sign_in(client)
    assert client.get("/").status_code == 200, "signing in again makes a new session"


def test_sign_in_attempts_are_limited_per_address(web: Container) -> None:
    app = create_app(web, run_worker=False, migrate=False)
    guesser = TestClient(app, client=("198.51.100.7", 40000), follow_redirects=False, base_url="https://testserver")
    csrf = csrf_of(guesser.get("/signin").text)
    answers = [guesser.post("/signin", data={"csrf": csrf, "token": f"guess-{n:020d}"}).status_code for n in range(10)]
    assert answers == [401] * 10
    limited = guesser.post("/signin", data={"csrf": csrf, "token": TOKEN})
    assert limited.status_code == 429, "even the right token waits once the limit is reached"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    other = TestClient(app, client=("198.51.100.8", 40000), follow_redirects=False, base_url="https://testserver")
    sign_in(other)
    assert other.get("/").status_code == 200, "another address has its own count"


def test_behind_a_proxy_that_adds_its_own_forwarded_line_the_client_cannot_choose_its_address(web: Container) -> None:
    """HAProxy's ``option forwardfor`` adds an ``X-Forwarded-For`` line after the client's
    own: the address counted is the last one of all lines, the one the proxy saw."""
    app = create_app(web, run_worker=False, migrate=False)
    via_proxy = TestClient(app, client=(PROXY, 40000), follow_redirects=False, base_url="https://testserver")
    csrf = csrf_of(via_proxy.get("/signin").text)
    answers = [
        via_proxy.post(
            "/signin",
            data={"csrf": csrf, "token": f"guess-{n:020d}"},
            headers=[("X-Forwarded-For", f"203.0.113.{n}"), ("X-Forwarded-For", "198.51.100.7")],
        ).status_code
        for n in range(11)
    ]
    assert answers == [401] * 10 + [429], "a forged first line must not give each guess a fresh count"


def test_the_attempt_limiter_forgets_attempts_older_than_its_window() -> None:
    from bot.webview.ratelimit import AttemptLimiter

    now = [1000.0]
    limiter = AttemptLimiter(limit=2, window=60.0, clock=lambda: now[0], max_addresses=2)
    assert limiter.attempt("a") is None and limiter.attempt("a") is None
    assert limiter.attempt("a") == 60
    now[0] += 30
    assert limiter.attempt("a") == 30
    now[0] += 30
    assert limiter.attempt("a") is None
    limiter.attempt("b")
    limiter.attempt("c")
    assert "a" not in limiter._seen, "the longest-quiet address is forgotten past max_addresses"


def test_an_ipv6_client_cannot_reset_its_count_by_changing_address_within_its_prefix(web: Container) -> None:
    """A host given an IPv6 /64 can use a fresh address for every guess: attempts are counted
    per /64, directly and behind a trusted proxy, so the eleventh guess waits all the same."""
    app = create_app(web, run_worker=False, migrate=False)
    first = TestClient(app, client=("2001:db8:1:2::1", 40000), follow_redirects=False, base_url="https://testserver")
    csrf = csrf_of(first.get("/signin").text)
    cookie = first.cookies[sessions.COOKIE]
    answers = []
    for n in range(11):
        guesser = TestClient(app, client=(f"2001:db8:1:2:{n:x}::{n + 7:x}", 40000), follow_redirects=False, base_url="https://testserver")
        guesser.cookies.set(sessions.COOKIE, cookie)
        answers.append(guesser.post("/signin", data={"csrf": csrf, "token": f"guess-{n:020d}"}).status_code)
    assert answers == [401] * 10 + [429]
    other = TestClient(app, client=("2001:db8:1:3::1", 40000), follow_redirects=False, base_url="https://testserver")
    sign_in(other)
    assert other.get("/").status_code == 200, "another /64 has its own count"
    via_proxy = TestClient(app, client=(PROXY, 40000), follow_redirects=False, base_url="https://testserver")
    via_proxy.cookies.set(sessions.COOKIE, cookie)
    forwarded = [
        via_proxy.post("/signin", data={"csrf": csrf, "token": "guess"}, headers={"X-Forwarded-For": f"2001:db8:9::{n + 1:x}"}).status_code
        for n in range(11)
    ]
    assert forwarded == [401] * 10 + [429]


def test_an_ipv4_client_on_a_dual_stack_socket_is_counted_as_its_ipv4_address() -> None:
    import ipaddress

    from bot.webview.auth import counted_as

    assert counted_as(ipaddress.ip_address("::ffff:198.51.100.7")) == "198.51.100.7"
    assert counted_as(ipaddress.ip_address("198.51.100.7")) == "198.51.100.7"
    assert counted_as(ipaddress.ip_address("2001:db8::5")) == "2001:db8::/64"


def test_a_public_url_written_in_capitals_still_marks_cookies_secure_and_accepts_its_own_origin(db_url: str, engine: Engine, clock: FrozenClock) -> None:
    """``HTTPS://Firebreak.Example.com`` passed as https, but the cookie was marked ``Secure``
    only for a URL starting with ``https://``, and the sign-in form's ``Origin`` (which
    browsers send in lower case) did not match it, so signing in was refused."""
    built = build_container(
        make_settings(db_url, FIREBREAK_WEB_TOKEN=TOKEN, FIREBREAK_PUBLIC_URL="HTTPS://Firebreak.Example.com/"),
        clock=clock,
        transcript_stream=io.StringIO(),
        engine=engine,
    )
    client = TestClient(create_app(built, run_worker=False, migrate=False), follow_redirects=False, base_url="http://10.0.0.5:8080")
    page = client.get("/signin")
    assert "Secure" in page.headers["set-cookie"]
    client.cookies.set(sessions.COOKIE, page.cookies[sessions.COOKIE])
    answer = client.post(
        "/signin", data={"csrf": csrf_of(page.text), "token": TOKEN, "name": "Dana", "next": "/"}, headers={"Origin": "https://firebreak.example.com"}
    )
    assert answer.status_code == 303


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("https://admin:hunter2@firebreak.example.com", "user name or password"),
        ("https://firebreak.example.com/?tab=1", "query"),
        ("https://firebreak.example.com/#top", "fragment"),
        ("https://firebreak.example.com/a b", "spaces"),
    ],
)
def test_a_public_url_that_would_make_broken_or_leaking_links_stops_the_start(value: str, says: str) -> None:
    """Links to pages are made by appending ``/incidents/<n>`` and posted in every channel."""
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as refused:
        load_settings(_env_file=None, FIREBREAK_PUBLIC_URL=value)
    assert "FIREBREAK_PUBLIC_URL" in str(refused.value) and says in str(refused.value)
