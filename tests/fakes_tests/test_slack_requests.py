"""Signatures and payload builders for requests Slack sends to the app."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from tests.fakes import slack_requests as sr
from tests.fakes.slack_api import FakeSlack

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def test_signature_is_accepted_by_slack_sdk_verifier() -> None:
    body = sr.slash_command_body("declare DB down P1")
    headers = sr.sign_slack_request(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + b"x", headers)


def test_stale_timestamp_is_rejected() -> None:
    body = sr.url_verification_body()
    stale = sr.sign_slack_request(SECRET, body, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)


def test_slash_command_form_fields() -> None:
    fields = parse_qs(
        sr.slash_command_body("ack INC-7", channel_id="C123", user_id="U0BOB").decode()
    )
    assert fields["command"] == ["/incident"] and fields["text"] == ["ack INC-7"]
    assert (
        fields["channel_id"] == ["C123"]
        and fields["user_id"] == ["U0BOB"]
        and fields["trigger_id"][0]
    )


def test_interaction_payloads_are_json_in_a_form_field() -> None:
    action = json.loads(
        parse_qs(sr.block_actions_body("incident_ack", "INC-7").decode())["payload"][0]
    )
    assert (
        action["type"] == "block_actions"
        and action["actions"][0]["action_id"] == "incident_ack"
    )
    assert action["actions"][0]["value"] == "INC-7"
    values = {
        "title": {"title_input": sr.text_input_value("DB down")},
        "sev": {"sev_select": sr.select_value("P1")},
    }
    view = json.loads(
        parse_qs(sr.view_submission_body("declare_modal", values).decode())["payload"][
            0
        ]
    )
    assert (
        view["type"] == "view_submission"
        and view["view"]["state"]["values"]["sev"]["sev_select"]["selected_option"][
            "value"
        ]
        == "P1"
    )


def test_events_envelopes() -> None:
    envelope = json.loads(
        sr.event_callback_body(
            sr.reaction_added_event("pushpin", channel="C9", ts="1.2")
        )
    )
    assert envelope["type"] == "event_callback" and envelope["event"]["item"] == {
        "type": "message",
        "channel": "C9",
        "ts": "1.2",
    }
    assert (
        json.loads(sr.event_callback_body(sr.app_mention_event()))["event"]["type"]
        == "app_mention"
    )
    assert json.loads(sr.url_verification_body("abc"))["challenge"] == "abc"


def test_bolt_app_dispatches_signed_builder_payloads(fake_slack: FakeSlack) -> None:
    """The builders are realistic enough for Bolt to route them; Bolt's client uses the fake."""
    client = WebClient(token=fake_slack.token, base_url=fake_slack.api_url)
    app = App(signing_secret=SECRET, client=client)
    seen: list[str] = []

    @app.command("/incident")
    def on_command(ack, command) -> None:
        ack()
        seen.append("command:" + command["text"])

    @app.action("incident_ack")
    def on_action(ack, body) -> None:
        ack()
        seen.append("action:" + body["actions"][0]["value"])

    @app.view("declare_modal")
    def on_view(ack, view) -> None:
        ack()
        seen.append("view:" + view["state"]["values"]["title"]["t"]["value"])

    @app.event("reaction_added")
    def on_reaction(event) -> None:
        seen.append("reaction:" + event["reaction"])

    def dispatch(body: bytes, content_type: str, **sign) -> int:
        headers = {
            k: [v]
            for k, v in sr.sign_slack_request(
                SECRET, body, content_type=content_type, **sign
            ).items()
        }
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status

    assert dispatch(sr.slash_command_body("status"), sr.FORM) == 200
    assert dispatch(sr.block_actions_body("incident_ack", "INC-3"), sr.FORM) == 200
    assert (
        dispatch(
            sr.view_submission_body(
                "declare_modal", {"title": {"t": sr.text_input_value("DB")}}
            ),
            sr.FORM,
        )
        == 200
    )
    assert (
        dispatch(sr.event_callback_body(sr.reaction_added_event("pushpin")), sr.JSON)
        == 200
    )
    assert (
        dispatch(
            sr.slash_command_body("status"), sr.FORM, timestamp=int(time.time()) - 600
        )
        == 401
    )
    assert seen[:3] == ["command:status", "action:INC-3", "view:DB"]
