"""The fake Slack Web API, driven by the real slack_sdk clients (sync and async)."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_requests import trigger_id


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=fake_slack.token, base_url=fake_slack.api_url, timeout=5)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(SlackApiError) as caught:
        call(*args, **kwargs)
    return caught.value.response["error"]


def test_auth_test_and_invalid_auth(fake_slack: FakeSlack, client: WebClient) -> None:
    assert client.auth_test()["user_id"] == "U0BOT"
    bad = WebClient(token="xoxb-wrong", base_url=fake_slack.api_url)
    assert error_of(bad.auth_test) == "invalid_auth"
    assert error_of(WebClient(base_url=fake_slack.api_url).auth_test) == "not_authed"
    assert [c.error for c in fake_slack.calls("auth.test")] == [
        None,
        "invalid_auth",
        "not_authed",
    ]


def test_create_channel_and_name_taken(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    channel = client.conversations_create(name="inc-42-checkout-latency")["channel"]
    assert channel["id"].startswith("C") and channel["is_member"] is True
    assert fake_slack.channel("inc-42-checkout-latency").id == channel["id"]
    assert (
        error_of(client.conversations_create, name="inc-42-checkout-latency")
        == "name_taken"
    )


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Inc-1", "invalid_name_specials"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("inc-1-\u00e9chec-\u00c9chec", "invalid_name_specials"),  # upper case beyond ASCII
        ("inc-1-\u202eexe.fdp", "invalid_name_specials"),  # a bidi override
        ("inc-1-a\u200bb", "invalid_name_specials"),  # a zero-width space
        ("inc-1-\u3000x", "invalid_name_specials"),  # an ideographic space
        ("inc-1-\U0001f525", "invalid_name_specials"),  # an emoji
        ("inc-1-\u2122", "invalid_name_specials"),  # a symbol
        ("x" * 81, "invalid_name_maxlength"),
        ("---", "invalid_name_punctuation"),
        ("", "invalid_name_required"),
    ],
)
def test_invalid_channel_names(client: WebClient, name: str, error: str) -> None:
    assert error_of(client.conversations_create, name=name) == error


def test_channel_name_of_80_chars_is_fine(client: WebClient) -> None:
    assert client.conversations_create(name="a" * 80)["ok"]
    assert client.conversations_create(name="inc-2-\u00e9chec-\u969c\u5bb3")["ok"]  # lower-case and caseless letters


def test_post_update_history_with_metadata(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    cid = client.conversations_create(name="inc-1")["channel"]["id"]
    metadata = {"event_type": "incident_summary", "event_payload": {"incident": 1}}
    posted = client.chat_postMessage(
        channel=cid,
        text="summary",
        metadata=metadata,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*INC-1*"}}],
    )
    client.chat_update(channel=cid, ts=posted["ts"], text="summary v2")
    reply = client.chat_postMessage(
        channel=cid, text="in thread", thread_ts=posted["ts"]
    )
    assert reply["message"]["thread_ts"] == posted["ts"]

    plain = client.conversations_history(channel=cid)["messages"]
    assert [m["text"] for m in plain] == ["summary v2"] and "metadata" not in plain[0]
    full = client.conversations_history(channel=cid, include_all_metadata=True)[
        "messages"
    ]
    assert full[0]["metadata"] == metadata and full[0]["edited"]["user"] == "U0BOT"
    assert [m["text"] for m in fake_slack.messages(cid)] == ["summary v2", "in thread"]
    assert (
        error_of(client.chat_update, channel=cid, ts="1.000001", text="x")
        == "message_not_found"
    )


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_to_channel_by_name_and_validation(client: WebClient) -> None:
    assert client.chat_postMessage(channel="#incidents", text="hello")[
        "channel"
    ].startswith("C")
    assert (
        error_of(client.chat_postMessage, channel="#nope", text="x")
        == "channel_not_found"
    )
    assert error_of(client.chat_postMessage, channel="#incidents") == "no_text"
    assert (
        error_of(client.chat_postMessage, channel="#incidents", text="x" * 40_001)
        == "msg_too_long"
    )
    blocks = [{"type": "divider"}] * 51
    assert (
        error_of(client.chat_postMessage, channel="#incidents", text="x", blocks=blocks)
        == "invalid_blocks"
    )


def test_form_encoded_and_json_bodies_are_both_accepted(fake_slack: FakeSlack) -> None:
    def raw(body: bytes, content_type: str) -> dict:
        req = urllib.request.Request(
            f"{fake_slack.api_url}chat.postMessage",
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "Authorization": f"Bearer {fake_slack.token}",
            },
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    blocks = json.dumps(
        [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}]
    )
    form = f"channel=incidents&text=hi&blocks={urllib.parse.quote(blocks)}".encode()
    assert raw(form, "application/x-www-form-urlencoded")["ok"]
    assert raw(
        json.dumps({"channel": "incidents", "text": "hi"}).encode(),
        "application/json; charset=utf-8",
    )["ok"]
    assert raw(b"{not json", "application/json")["error"] == "invalid_json"
    assert fake_slack.messages("incidents")[0]["blocks"][0]["type"] == "section"


def test_invite_with_one_member_already_in_fails_whole_and_invites_nobody(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    """Slack: one refused invite fails the call, and the others are not invited either."""
    cid = client.conversations_create(name="inc-8")["channel"]["id"]
    client.conversations_invite(channel=cid, users="U0ALICE")
    with pytest.raises(SlackApiError) as caught:
        client.conversations_invite(channel=cid, users="U0ALICE,U0BOB")
    assert caught.value.response["error"] == "already_in_channel"
    assert caught.value.response["errors"] == [{"user": "U0ALICE", "ok": False, "error": "already_in_channel"}]
    assert "U0BOB" not in fake_slack.channel(cid).members
    too_many = ",".join(["U0BOB"] * 1001)
    assert error_of(client.conversations_invite, channel=cid, users=too_many) == "too_many_users"


def test_topic_and_invite_need_the_caller_in_the_channel(fake_slack: FakeSlack, client: WebClient) -> None:
    public = fake_slack.workspace.add_channel("ops", bot_is_member=False)
    private = fake_slack.workspace.add_channel("secret", is_private=True, bot_is_member=False)
    assert error_of(client.conversations_setTopic, channel=public.id, topic="x") == "not_in_channel"
    assert error_of(client.conversations_invite, channel=public.id, users="U0BOB") == "not_in_channel"
    assert error_of(client.conversations_setTopic, channel=private.id, topic="x") == "channel_not_found"
    assert public.topic == "" and "U0BOB" not in public.members


def test_channel_lifecycle_calls(fake_slack: FakeSlack, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-7")["channel"]["id"]
    assert (
        client.conversations_setTopic(channel=cid, topic="P1 | triggered")["channel"][
            "topic"
        ]["value"]
        == "P1 | triggered"
    )
    client.conversations_invite(channel=cid, users=["U0ALICE", "U0BOB"])
    assert (
        error_of(client.conversations_invite, channel=cid, users="U0ALICE")
        == "already_in_channel"
    )
    assert (
        error_of(client.conversations_invite, channel=cid, users="U0NOBODY")
        == "user_not_found"
    )
    ts = client.chat_postMessage(channel=cid, text="summary")["ts"]
    client.pins_add(channel=cid, timestamp=ts)
    assert error_of(client.pins_add, channel=cid, timestamp=ts) == "already_pinned"
    bookmark = client.bookmarks_add(
        channel_id=cid,
        title="Runbook",
        type="link",
        link="https://runbooks.example.com/x",
    )
    assert bookmark["bookmark"]["title"] == "Runbook"
    client.reactions_add(channel=cid, name="pushpin", timestamp=ts)
    assert (
        error_of(client.reactions_add, channel=cid, name="pushpin", timestamp=ts)
        == "already_reacted"
    )
    assert client.chat_postEphemeral(channel=cid, user="U0ALICE", text="only you")[
        "message_ts"
    ]
    assert (
        error_of(client.chat_postEphemeral, channel=cid, user="U0CAROL", text="x")
        == "user_not_in_channel"
    )
    assert client.conversations_join(channel=cid)["warning"] == "already_in_channel"
    client.conversations_archive(channel=cid)
    assert error_of(client.conversations_archive, channel=cid) == "already_archived"
    assert error_of(client.chat_postMessage, channel=cid, text="late") == "is_archived"
    info = client.conversations_info(channel=cid)["channel"]
    assert info["is_archived"] and info["num_members"] == 3
    assert fake_slack.channel(cid).pins == [ts]


def test_conversations_list_pagination(
    fake_slack: FakeSlack, client: WebClient
) -> None:
    for i in range(7):
        client.conversations_create(name=f"inc-{i}")
    names, cursor, pages = [], None, 0
    while True:
        page = client.conversations_list(limit=3, cursor=cursor)
        names += [c["name"] for c in page["channels"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(names) == 9 and "incidents" in names
    assert error_of(client.conversations_list, cursor="garbage") == "invalid_cursor"


def test_users(client: WebClient) -> None:
    assert (
        client.users_lookupByEmail(email="Alice@Example.com")["user"]["id"] == "U0ALICE"
    )
    assert (
        error_of(client.users_lookupByEmail, email="nobody@example.com")
        == "users_not_found"
    )
    assert (
        client.users_info(user="U0BOB")["user"]["profile"]["email"] == "bob@example.com"
    )
    assert error_of(client.users_info, user="U0NOPE") == "user_not_found"


def test_guests_external_users_and_user_groups(fake_slack: FakeSlack, client: WebClient) -> None:
    member = client.users_info(user="U0BOB")["user"]
    assert member["is_restricted"] is False and member["is_ultra_restricted"] is False
    assert member["team_id"] == "T0FIREBRK" and "is_stranger" not in member
    fake_slack.add_user("gina", user_id="U0GINA", guest="single")
    fake_slack.add_user("mia", user_id="U0MIA", guest="multi")
    fake_slack.add_user("eve", user_id="U0EVE", team_id="T0PARTNER", stranger=True)
    single = client.users_info(user="U0GINA")["user"]
    assert single["is_restricted"] is True and single["is_ultra_restricted"] is True
    multi = client.users_info(user="U0MIA")["user"]
    assert multi["is_restricted"] is True and multi["is_ultra_restricted"] is False
    external = client.users_info(user="U0EVE")["user"]
    assert external["team_id"] == "T0PARTNER" and external["is_stranger"] is True
    with pytest.raises(ValueError):
        fake_slack.add_user("x", guest="sometimes")

    group = fake_slack.add_usergroup(["U0ALICE", "U0BOB"])
    assert group.startswith("S")
    assert client.usergroups_users_list(usergroup=group)["users"] == ["U0ALICE", "U0BOB"]
    assert error_of(client.usergroups_users_list, usergroup="S0NOPE") == "no_such_subteam"
    assert error_of(client.api_call, "usergroups.users.list") == "invalid_arguments"


def test_views_open_takes_a_trigger_once_and_within_three_seconds(client: WebClient) -> None:
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}
    fresh = trigger_id()
    assert client.views_open(trigger_id=fresh, view=modal)["ok"]
    assert error_of(client.views_open, trigger_id=fresh, view=modal) == "exchanged_trigger_id"
    assert error_of(client.views_open, trigger_id=trigger_id(age=3.5), view=modal) == "expired_trigger_id"


def test_views(client: WebClient) -> None:
    modal = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Declare"},
        "blocks": [],
        "callback_id": "declare",
    }
    view = client.views_open(trigger_id="123.456.abc", view=modal)["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "declare"
    assert (
        error_of(
            client.views_open,
            trigger_id="123.456.abc",
            view={"type": "home", "blocks": []},
        )
        == "invalid_arguments"
    )
    assert (
        client.views_publish(user_id="U0ALICE", view={"type": "home", "blocks": []})[
            "view"
        ]["type"]
        == "home"
    )


def test_files_upload_v2_flow(fake_slack: FakeSlack, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-9")["channel"]["id"]
    result = client.files_upload_v2(
        channel=cid,
        content="# Post-mortem\n",
        filename="INC-9.md",
        title="Post-mortem INC-9",
        initial_comment="Draft post-mortem",
    )
    assert result["file"]["title"] == "Post-mortem INC-9" and result["file"][
        "size"
    ] == len("# Post-mortem\n")
    assert [c.method for c in fake_slack.calls()][-3:] == [
        "files.getUploadURLExternal",
        "upload_url",
        "files.completeUploadExternal",
    ]
    shared = fake_slack.messages(cid)[-1]
    assert (
        shared["text"] == "Draft post-mortem"
        and shared["files"][0]["name"] == "INC-9.md"
    )


def test_async_client_against_the_fake(fake_slack: FakeSlack) -> None:
    async def scenario() -> tuple[str, str, int]:
        client = AsyncWebClient(
            token=fake_slack.token, base_url=fake_slack.api_url, timeout=5
        )
        cid = (await client.conversations_create(name="inc-async"))["channel"]["id"]
        posts = await asyncio.gather(
            *(client.chat_postMessage(channel=cid, text=f"m{i}") for i in range(10))
        )
        with pytest.raises(SlackApiError) as caught:
            await client.conversations_create(name="inc-async")
        upload = await client.files_upload_v2(
            channel=cid, content=b"abc", filename="a.txt"
        )
        return (
            caught.value.response["error"],
            upload["file"]["id"],
            len({p["ts"] for p in posts}),
        )

    error, file_id, distinct_ts = asyncio.run(scenario())
    assert error == "name_taken" and file_id.startswith("F") and distinct_ts == 10
    assert len(fake_slack.messages("inc-async")) == 11


def test_unknown_method_and_reset(fake_slack: FakeSlack, client: WebClient) -> None:
    assert error_of(client.api_call, "nope.nothing") == "unknown_method"
    client.conversations_create(name="inc-x")
    fake_slack.reset()
    assert fake_slack.calls() == [] and [c.name for c in fake_slack.channels] == [
        "general",
        "incidents",
    ]


def test_block_ids_and_action_ids_must_not_repeat(fake_slack: FakeSlack, client: WebClient) -> None:
    section = {"type": "section", "block_id": "same", "text": {"type": "mrkdwn", "text": "a"}}
    with pytest.raises(SlackApiError) as caught:
        client.chat_postMessage(channel="incidents", text="t", blocks=[section, {**section, "text": {"type": "mrkdwn", "text": "b"}}])
    assert caught.value.response["error"] == "invalid_blocks"
    assert "duplicate block_id" in caught.value.response["response_metadata"]["messages"][0]
    button = {"type": "button", "action_id": "go", "text": {"type": "plain_text", "text": "Go"}}
    assert error_of(client.chat_postMessage, channel="incidents", text="t", blocks=[{"type": "actions", "elements": [button, button]}]) == "invalid_blocks"
    two_blocks = [{"type": "actions", "elements": [button]}, {"type": "actions", "elements": [button]}]
    assert client.chat_postMessage(channel="incidents", text="t", blocks=two_blocks)["ok"]  # unique per block is enough
