"""The web view in-process: a container with the web sign-in configured, and signed-in clients."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from bot.container import Container, build_container
from bot.domain.clock import FrozenClock
from bot.web import create_app
from tests.conftest import make_settings

TOKEN = "web-token-for-tests-0123456789"
PROXY = "10.1.2.3"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def web(db_url: str, engine: Engine, clock: FrozenClock) -> Iterator[Container]:
    built = build_container(
        make_settings(
            db_url,
            FIREBREAK_WEB_TOKEN=TOKEN,
            FIREBREAK_WEB_USER_HEADER="X-Forwarded-User",
            FIREBREAK_WEB_TRUSTED_PROXIES=f"{PROXY},192.168.0.0/16",
            FIREBREAK_PUBLIC_URL="https://firebreak.example.com",
        ),
        clock=clock,
        transcript_stream=io.StringIO(),
        engine=engine,
    )
    yield built


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, *, token: str = TOKEN, name: str = "Dana") -> None:
    page = client.get("/signin")
    response = client.post("/signin", data={"csrf": csrf_of(page.text), "token": token, "name": name, "next": "/"}, follow_redirects=False)
    assert response.status_code == 303, response.text


@pytest.fixture
def anonymous(web: Container) -> TestClient:
    return TestClient(create_app(web, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver")


@pytest.fixture
def client(web: Container) -> TestClient:
    signed = TestClient(create_app(web, run_worker=False, migrate=False), follow_redirects=False, base_url="https://testserver")
    sign_in(signed)
    return signed


def add_incidents(web: Container, count: int, **values: object) -> list[int]:
    """``count`` bare incidents written straight to the table (the list reads only columns)."""
    from bot.store.models import IncidentRow

    now = web.clock.now()
    rows = []
    with web.sessions.begin() as session:
        for index in range(count):
            fields: dict[str, object] = {
                "title": f"incident {index}",
                "severity": "P2",
                "status": "triggered",
                "source": "console",
                "created_at": now,
                "updated_at": now,
                "last_activity_at": now,
                "labels": {},
                "roles": {},
            }
            fields.update(values)
            row = IncidentRow(**fields)
            session.add(row)
            rows.append(row)
        session.flush()
        return [row.id for row in rows]
