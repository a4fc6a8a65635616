"""The fake PagerDuty, driven by the official ``pagerduty`` package."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pagerduty
import pytest

from tests.fakes.pagerduty_api import DEFAULT_ROUTING_KEY, FakePagerDuty

FROM = "firebreak@example.com"


@pytest.fixture
def rest(fake_pagerduty: FakePagerDuty) -> pagerduty.RestApiV2Client:
    client = pagerduty.RestApiV2Client(
        fake_pagerduty.api_token,
        default_from=FROM,
        base_url=fake_pagerduty.url,
        verify=fake_pagerduty.client_ssl_context(),
    )
    client.sleep_timer = 0.01  # the client's own back-off on 429, kept short for tests
    return client


@pytest.fixture
def events(fake_pagerduty: FakePagerDuty) -> pagerduty.EventsApiV2Client:
    return pagerduty.EventsApiV2Client(
        DEFAULT_ROUTING_KEY,
        base_url=fake_pagerduty.events_url,
        verify=fake_pagerduty.client_ssl_context(),
    )


def test_incident_ack_resolve_and_notes(
    fake_pagerduty: FakePagerDuty, rest: pagerduty.RestApiV2Client
) -> None:
    incident = rest.rget("/incidents/Q0INC01")
    assert (
        incident["status"] == "triggered"
        and incident["escalation_policy"]["id"] == "PEPPRIM"
    )
    assert (
        rest.rput(
            "/incidents/Q0INC01",
            json={"type": "incident_reference", "status": "acknowledged"},
        )["status"]
        == "acknowledged"
    )
    note = rest.rpost("/incidents/Q0INC01/notes", json={"content": "Rolled back"})
    assert note["content"] == "Rolled back" and note["user"]["id"] == "PUFIREB"
    assert (
        rest.rput(
            "/incidents/Q0INC01",
            json={"type": "incident_reference", "status": "resolved"},
        )["status"]
        == "resolved"
    )
    with pytest.raises(pagerduty.HttpError) as caught:
        rest.rput(
            "/incidents/Q0INC01",
            json={"type": "incident_reference", "status": "resolved"},
        )
    assert caught.value.response.status_code == 400
    assert caught.value.response.json()["error"]["errors"] == ["Incident Already Resolved"]
    stored = fake_pagerduty.incident("Q0INC01")
    assert stored["status"] == "resolved" and [
        n["content"] for n in stored["notes"]
    ] == ["Rolled back"]
    # PagerDuty's reference: acknowledged (or triggered) on a resolved incident reopens it.
    reopened = rest.rput(
        "/incidents/Q0INC01",
        json={"type": "incident_reference", "status": "acknowledged"},
    )
    assert reopened["status"] == "acknowledged"
    assert fake_pagerduty.incident("Q0INC01")["reopened"] == 1
    put = fake_pagerduty.calls("PUT /incidents/{id}")[0]
    assert (
        put.headers["from"] == FROM
        and put.headers["accept"] == "application/vnd.pagerduty+json;version=2"
    )
    assert put.params["body"] == {
        "incident": {"type": "incident_reference", "status": "acknowledged"}
    }


def test_write_without_from_header_is_refused(fake_pagerduty: FakePagerDuty) -> None:
    client = pagerduty.RestApiV2Client(
        fake_pagerduty.api_token,
        base_url=fake_pagerduty.url,
        verify=fake_pagerduty.client_ssl_context(),
    )
    with pytest.raises(pagerduty.HttpError) as caught:
        client.rput(
            "/incidents/Q0INC01",
            json={"type": "incident_reference", "status": "acknowledged"},
        )
    error = caught.value.response.json()["error"]
    assert (
        caught.value.response.status_code == 400
        and error["code"] == 2001
        and "From" in error["errors"][0]
    )
    assert (
        client.rget("/incidents/Q0INC01")["status"] == "triggered"
    )  # reads need no From
    assert fake_pagerduty.calls("PUT /incidents/{id}")[0].status == 400


def test_unknown_from_and_bad_token(fake_pagerduty: FakePagerDuty) -> None:
    ctx = fake_pagerduty.client_ssl_context()
    stranger = pagerduty.RestApiV2Client(
        fake_pagerduty.api_token,
        default_from="who@nowhere",
        base_url=fake_pagerduty.url,
        verify=ctx,
    )
    with pytest.raises(pagerduty.HttpError) as caught:
        stranger.rpost("/incidents/Q0INC01/notes", json={"content": "x"})
    assert caught.value.response.json()["error"]["errors"] == [
        "Requester User Not Found"
    ]
    wrong = pagerduty.RestApiV2Client(
        "wrong-token", base_url=fake_pagerduty.url, verify=ctx
    )
    with pytest.raises(pagerduty.HttpError) as caught:
        wrong.rget("/incidents/Q0INC01")
    assert caught.value.response.status_code == 401


def test_missing_accept_header_is_refused(fake_pagerduty: FakePagerDuty) -> None:
    req = urllib.request.Request(
        f"{fake_pagerduty.url}/incidents/Q0INC01",
        headers={"Authorization": f"Token token={fake_pagerduty.api_token}"},
    )
    ctx = ssl.create_default_context(cafile=fake_pagerduty.ca_file)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=5, context=ctx)
    assert caught.value.code == 406


def test_oncalls_filter_include_and_pagination(
    fake_pagerduty: FakePagerDuty, rest: pagerduty.RestApiV2Client
) -> None:
    for i in range(5):
        user = fake_pagerduty.account.add_user(f"Extra {i}", f"extra{i}@example.com")
        fake_pagerduty.account.add_oncall("PEPPRIM", user["id"], level=3)
    oncalls = list(
        rest.iter_all(
            "/oncalls",
            params={"escalation_policy_ids": ["PEPPRIM"], "include": ["users"]},
            page_size=2,
        )
    )
    assert len(oncalls) == 7 and {o["escalation_policy"]["id"] for o in oncalls} == {
        "PEPPRIM"
    }
    assert (
        oncalls[0]["user"]["email"] == "alice@example.com"
        and oncalls[0]["escalation_level"] == 1
    )
    pages = fake_pagerduty.calls("GET /oncalls")
    assert [c.params["offset"] for c in pages] == ["0", "2", "4", "6"]
    assert pages[-1].response and json.loads(pages[-1].response)["more"] is False
    no_users = rest.jget("/oncalls", params={"escalation_policy_ids[]": "PEPDB01"})
    assert (
        no_users["oncalls"][0]["user"]["type"] == "user_reference"
        and "email" not in no_users["oncalls"][0]["user"]
    )


def test_users_services_and_404(rest: pagerduty.RestApiV2Client) -> None:
    assert rest.rget("/users/PUCAROL")["email"] == "carol@example.com"
    assert rest.rget("/services/PSVCDB1")["escalation_policy"]["id"] == "PEPDB01"
    with pytest.raises(pagerduty.HttpError) as caught:
        rest.rget("/incidents/QNOPE")
    assert caught.value.response.status_code == 404


def test_rest_faults(
    fake_pagerduty: FakePagerDuty, rest: pagerduty.RestApiV2Client
) -> None:
    fake_pagerduty.rate_limit_next("GET /incidents/{id}", retry_after=2)
    assert (
        rest.rget("/incidents/Q0INC01")["id"] == "Q0INC01"
    )  # the client retries 429 by itself
    first = fake_pagerduty.calls("GET /incidents/{id}")[0]
    assert first.status == 429 and fake_pagerduty.served_429 == 1
    fake_pagerduty.fail_next("PUT /incidents/{id}", status=502)
    with pytest.raises(pagerduty.HttpError) as caught:
        rest.rput(
            "/incidents/Q0INC01",
            json={"type": "incident_reference", "status": "acknowledged"},
        )
    assert caught.value.response.status_code == 502 and fake_pagerduty.served_5xx == 1


def test_events_trigger_ack_resolve(
    fake_pagerduty: FakePagerDuty, events: pagerduty.EventsApiV2Client
) -> None:
    assert (
        events.trigger(
            "INC-12: checkout down",
            "firebreak",
            dedup_key="INC-12",
            severity="critical",
            custom_details={"incident": 12},
        )
        == "INC-12"
    )
    assert events.acknowledge("INC-12") == "INC-12"
    assert events.resolve("INC-12") == "INC-12"
    assert fake_pagerduty.account.alerts["INC-12"]["status"] == "resolved"
    assert [e["event_action"] for e in fake_pagerduty.events] == [
        "trigger",
        "acknowledge",
        "resolve",
    ]
    generated = events.trigger("no key", "firebreak")
    assert len(generated) == 32


def _enqueue(fake: FakePagerDuty, event: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{fake.events_url}/v2/enqueue",
        data=json.dumps(event).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    ctx = ssl.create_default_context(cafile=fake.ca_file)
    try:
        with urllib.request.urlopen(req, timeout=5, context=ctx) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (
            {
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "x", "severity": "critical"},
            },
            "routing_key",
        ),
        (
            {
                "routing_key": "short",
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "x", "severity": "critical"},
            },
            "32",
        ),
        (
            {"routing_key": DEFAULT_ROUTING_KEY, "event_action": "explode"},
            "event_action",
        ),
        (
            {
                "routing_key": DEFAULT_ROUTING_KEY,
                "event_action": "trigger",
                "payload": {"source": "x", "severity": "critical"},
            },
            "summary",
        ),
        (
            {
                "routing_key": DEFAULT_ROUTING_KEY,
                "event_action": "trigger",
                "payload": {"summary": "s", "severity": "critical"},
            },
            "source",
        ),
        (
            {
                "routing_key": DEFAULT_ROUTING_KEY,
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "x", "severity": "P1"},
            },
            "severity",
        ),
        ({"routing_key": DEFAULT_ROUTING_KEY, "event_action": "resolve"}, "dedup_key"),
        (
            {"routing_key": "X" * 32, "event_action": "resolve", "dedup_key": "k"},
            "Invalid routing key",
        ),
    ],
)
def test_events_validation(
    fake_pagerduty: FakePagerDuty, event: dict, fragment: str
) -> None:
    status, body = _enqueue(fake_pagerduty, event)
    assert status == 400 and body["status"] == "invalid event"
    assert any(fragment in e for e in body["errors"]), body
    assert fake_pagerduty.events == []


def test_events_rate_limit(fake_pagerduty: FakePagerDuty) -> None:
    fake_pagerduty.rate_limit_next("POST /v2/enqueue", retry_after=3)
    status, body = _enqueue(
        fake_pagerduty,
        {
            "routing_key": DEFAULT_ROUTING_KEY,
            "event_action": "resolve",
            "dedup_key": "k",
        },
    )
    assert status == 429 and body["status"] == "throttle event"
    assert fake_pagerduty.calls("POST /v2/enqueue")[0].status == 429


def test_env_fixture_points_settings_at_the_fake(
    fake_pagerduty_env: FakePagerDuty,
) -> None:
    import os

    client = pagerduty.RestApiV2Client(
        os.environ["PAGERDUTY_API_TOKEN"],
        default_from=os.environ["PAGERDUTY_FROM_EMAIL"],
        base_url=os.environ["PAGERDUTY_API_URL"],
    )  # trusts the CA via SSL_CERT_FILE
    assert client.rget("/incidents/Q0INC01")["id"] == "Q0INC01"


def test_open_incident_key_is_unique_per_service(
    fake_pagerduty: FakePagerDuty, rest: pagerduty.RestApiV2Client
) -> None:
    def create(key: str, service: str) -> pagerduty.HttpError | dict:
        body = {
            "type": "incident",
            "title": "DB down",
            "service": {"id": service, "type": "service_reference"},
            "incident_key": key,
        }
        try:
            return rest.rpost("/incidents", json=body)
        except pagerduty.HttpError as error:
            return error

    first = create("INC-1-L1", "PSVCAPI")
    assert isinstance(first, dict)
    refused = create("INC-1-L1", "PSVCAPI")
    assert isinstance(refused, pagerduty.HttpError)
    assert refused.response.status_code == 400
    assert refused.response.json()["error"]["errors"] == ["Open incident with key already exists"]
    assert isinstance(create("INC-1-L1", "PSVCDB1"), dict)  # another service
    rest.rput(f"/incidents/{first['id']}", json={"type": "incident_reference", "status": "resolved"})
    again = create("INC-1-L1", "PSVCAPI")  # the first one is resolved: no longer in the way
    assert isinstance(again, dict) and again["id"] != first["id"]
    listed = rest.list_all(
        "/incidents",
        params={"incident_key": "INC-1-L1", "service_ids[]": ["PSVCAPI"], "statuses[]": ["triggered", "acknowledged"]},
    )
    assert [i["id"] for i in listed] == [again["id"]]


def test_assignments_and_escalation_policy_exclude_each_other(rest: pagerduty.RestApiV2Client) -> None:
    body = {
        "type": "incident",
        "title": "DB down",
        "service": {"id": "PSVCAPI", "type": "service_reference"},
        "escalation_policy": {"id": "PEPDB01", "type": "escalation_policy_reference"},
        "assignments": [{"assignee": {"id": "PUBOB01", "type": "user_reference"}}],
    }
    with pytest.raises(pagerduty.HttpError) as caught:
        rest.rpost("/incidents", json=body)
    assert caught.value.response.status_code == 400


def test_rest_rate_limit_says_when_in_ratelimit_reset(fake_pagerduty: FakePagerDuty) -> None:
    """PagerDuty's REST 429 carries ratelimit-limit/-remaining/-reset, not Retry-After."""
    fake_pagerduty.rate_limit_next("GET /incidents/{id}", retry_after=7)
    req = urllib.request.Request(
        f"{fake_pagerduty.url}/incidents/Q0INC01",
        headers={"Accept": "application/vnd.pagerduty+json;version=2", "Authorization": f"Token token={fake_pagerduty.api_token}"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(req, timeout=5, context=ssl.create_default_context(cafile=fake_pagerduty.ca_file))
    headers = caught.value.headers
    assert caught.value.code == 429
    assert (headers["ratelimit-reset"], headers["ratelimit-remaining"]) == ("7", "0")
    assert headers.get("Retry-After") is None


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"escalation_policy": {"id": "PNOPOLICY", "type": "escalation_policy_reference"}}, "Escalation Policy Not Found"),
        ({"assignments": [{"assignee": {"id": "PNOUSER", "type": "user_reference"}}]}, "Assignee User Not Found"),
        ({"urgency": "urgent"}, "Urgency must be high or low"),
    ],
)
def test_a_page_to_nobody_known_is_refused(rest: pagerduty.RestApiV2Client, extra: dict, problem: str) -> None:
    body = {"type": "incident", "title": "DB down", "service": {"id": "PSVCAPI", "type": "service_reference"}, **extra}
    with pytest.raises(pagerduty.HttpError) as caught:
        rest.rpost("/incidents", json=body)
    assert caught.value.response.status_code == 400
    assert caught.value.response.json()["error"]["errors"] == [problem]
