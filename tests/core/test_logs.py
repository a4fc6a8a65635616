"""Secrets never reach the logs, whatever path they take."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logs import configure_logging


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]):
    """Configure inside the test's call phase, where capsys owns stderr."""

    def configure():
        configure_logging(fmt="json", secrets=["s3cr3t-signing", "pd-token-value"])
        return lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield configure
    logging.getLogger().handlers.clear()


def test_configured_secrets_and_token_shapes_are_masked(logged) -> None:
    read = logged()
    log = logging.getLogger("bot.test")
    log.warning("calling slack with xoxb-1234-5678-abcdef and secret s3cr3t-signing")
    log.warning("pd call", extra={"authorization": "Token token=pd-token-value", "url": "https://x/?k=pd-token-value"})
    log.error("header Bearer abc.def.ghi failed")
    lines = read()
    text = json.dumps(lines)
    for secret in ("xoxb-1234-5678-abcdef", "s3cr3t-signing", "pd-token-value", "abc.def.ghi"):
        assert secret not in text
    assert lines[0]["event"] == "calling slack with *** and secret ***"
    assert lines[1]["authorization"] == "***" and lines[1]["url"] == "https://x/?k=***"
    assert lines[0]["level"] == "warning" and lines[0]["logger"] == "bot.test"


def test_exceptions_are_masked_too(logged) -> None:
    read = logged()
    try:
        raise RuntimeError("auth failed for xapp-1-AAAA-bbbb")
    except RuntimeError:
        logging.getLogger("bot.test").exception("boom")
    line = read()[0]
    assert "xapp-1-AAAA-bbbb" not in json.dumps(line)
    assert "RuntimeError" in line["exception"]
