"""From a clean checkout: ``firebreak serve`` in local mode opens the web view with the token
it makes for Alertmanager, and says so."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.support.processes import Server, firebreak_env
from tests.webview.conftest import csrf_of


def test_local_serve_opens_the_web_view_with_its_token(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'firebreak.db'}"
    log = tmp_path / "serve.log"
    with Server(firebreak_env(db_url), log=log) as server:
        token = (tmp_path / ".firebreak-token").read_text().strip()
        with httpx.Client(base_url=server.url, timeout=10) as client:
            assert client.get("/").status_code == 303
            csrf = csrf_of(client.get("/signin").text)
            signed = client.post("/signin", data={"csrf": csrf, "token": token})
            assert signed.status_code == 303
            page = client.get("/")
            assert page.status_code == 200 and "Incidents" in page.text
    assert re.search(r"Web view: http://127\.0\.0\.1:\d+/ \(sign in with the same token", log.read_text())


def test_local_serve_with_a_chosen_token_says_the_web_view_is_closed(tmp_path: Path) -> None:
    """With ALERTMANAGER_TOKEN chosen (as the tour does), nothing opens the web view: the
    start says so, instead of a 403 page being the first news of it."""
    db_url = f"sqlite:///{tmp_path / 'firebreak.db'}"
    log = tmp_path / "serve.log"
    with Server(firebreak_env(db_url, ALERTMANAGER_TOKEN="tour-secret-4f1a9c0d"), log=log) as server:
        assert httpx.get(server.url + "/", timeout=10).status_code == 403
    text = log.read_text()
    assert re.search(r"Web view: http://127\.0\.0\.1:\d+/ is closed until FIREBREAK_WEB_TOKEN is set", text), text[-2000:]
    assert "the web view (GET /) is closed" in text
