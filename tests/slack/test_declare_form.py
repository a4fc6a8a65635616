"""The declare modal (``view_submission``) always tells the person what happened: problems with
a field on the field (``response_action: errors``), anything else where the form was opened
from or, without a channel, in a direct message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from bot.chat.slack.blocks import declare_modal
from bot.container import Container
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import FORM, select_value, text_input_value, view_submission_body
from tests.slack.conftest import SlackHttp
from tests.support.waiting import eventually


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))  # type: ignore[arg-type]


def submission(title: str, *, user_id: str, description: str = "", channel: str = "") -> bytes:
    values = {"title": {"value": text_input_value(title)}, "severity": {"value": select_value("P2")}}
    if description:
        values["description"] = {"value": text_input_value(description)}
    return view_submission_body(declare_modal()["callback_id"], values, user_id=user_id, user_name="x", private_metadata=channel)


def test_field_problems_are_shown_in_the_modal_and_change_nothing(slack: Container, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("bob", "bob@example.com", user_id="U0BOB")

    async def scenario() -> None:
        http = SlackHttp(slack)
        for title, description, field in (("x" * 5000, "", "title"), ("   ", "", "title"), ("Checkout down", "d" * 3000, "description")):
            response = await http.post(submission(title, user_id="U0BOB", description=description), FORM)
            assert response.status_code == 200
            answer = response.json()
            assert answer["response_action"] == "errors" and list(answer["errors"]) == [field], answer
        long = (await http.post(submission("x" * 5000, user_id="U0BOB"), FORM)).json()
        assert "200 characters" in long["errors"]["title"] and "5000" in long["errors"]["title"]

    run(scenario)
    assert slack.service.recent() == []


def test_a_refusal_without_a_channel_reaches_the_person_by_direct_message(slack: Container, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("gina", "gina@example.com", user_id="U0GINA", guest="single")

    async def scenario() -> None:
        http = SlackHttp(slack)
        response = await http.post(submission("Our side is down", user_id="U0GINA"), FORM)
        assert response.status_code == 200 and response.text == ""  # the modal closes
        direct = await eventually(lambda: [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == "U0GINA"])
        assert str(direct[0].params["text"]).startswith("🚫 as a single-channel guest")
        dm = fake_slack.workspace.ims["U0GINA"]
        assert [m["text"] for m in fake_slack.messages(dm.id)] == [direct[0].params["text"]]

    run(scenario)
    assert slack.service.recent() == []


def test_an_undeliverable_reply_is_logged_at_warning(slack: Container, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    """A user Slack no longer knows (deactivated between opening and submitting): nowhere to answer."""
    fake_slack.add_user("gone", "gone@example.com", user_id="U0GONE", guest="single")

    async def scenario() -> None:
        http = SlackHttp(slack)
        with fake_slack.workspace.lock:
            fake_slack.workspace.users["U0GONE"]["deleted"] = True
        assert (await http.post(submission("Our side is down", user_id="U0GONE"), FORM)).status_code == 200

        def warned() -> Any:
            return [r for r in caplog.records if r.levelno == logging.WARNING and "could not deliver a reply" in r.getMessage()]

        await eventually(warned)

    with caplog.at_level(logging.WARNING):
        run(scenario)
