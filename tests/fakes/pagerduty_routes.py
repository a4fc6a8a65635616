"""Route table of the fake PagerDuty: REST API v2 resources and Events API v2 ``/v2/enqueue``.

Each route is a small function over the account; :class:`~tests.fakes.pagerduty_api.FakePagerDuty`
does authentication, header checks, faults and recording before calling it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tests.fakes._http import Request, Response
from tests.fakes.pagerduty_events import apply_event, validate_event
from tests.fakes.pagerduty_state import now_iso

if TYPE_CHECKING:
    from tests.fakes.pagerduty_api import FakePagerDuty

Route = Callable[["FakePagerDuty", Request, dict[str, str], dict[str, Any]], Response]
ROUTES: list[tuple[str, re.Pattern[str], str, Route]] = []


def _route(method: str, template: str) -> Callable[[Route], Route]:
    pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")

    def register(fn: Route) -> Route:
        ROUTES.append((method, pattern, f"{method} {template}", fn))
        return fn

    return register


def pd_error(
    status: int, message: str, code: int, errors: Iterable[str] = ()
) -> Response:
    """PagerDuty's REST error body."""
    return Response.json(
        {"error": {"message": message, "code": code, "errors": list(errors)}},
        status=status,
    )


def param_list(query: dict[str, list[str]], name: str) -> list[str]:
    """``name[]`` (what clients send) or ``name`` (what curl users type)."""
    return query.get(f"{name}[]", []) + query.get(name, [])


# --------------------------------------------------------------------- REST routes
def _incident_or_404(
    fake: FakePagerDuty, incident_id: str
) -> dict[str, Any] | Response:
    incident = fake.account.incidents.get(incident_id)
    return (
        incident
        if incident is not None
        else pd_error(404, "Not Found", 2100, ["Incident Not Found"])
    )


@_route("GET", "/incidents")
def _list_incidents(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    statuses = set(param_list(request.query, "statuses"))
    keys = set(param_list(request.query, "incident_key"))
    services = set(param_list(request.query, "service_ids"))
    with fake.account.lock:
        found = [
            fake.account.render_incident(i)
            for i in fake.account.incidents.values()
            if (not statuses or i["status"] in statuses)
            and (not keys or i["incident_key"] in keys)
            and (not services or i["service_id"] in services)
        ]
    return _classic_page(request, "incidents", found)


@_route("POST", "/incidents")
def _create_incident(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    """Open an incident on a service, for an escalation policy or assigned users.

    Like PagerDuty: ``type`` must be ``incident``, ``title`` and ``service`` are required,
    ``assignments`` and ``escalation_policy`` exclude each other, and an open incident with
    the same ``incident_key`` on the service answers 400.
    """
    new = body.get("incident")
    if not isinstance(new, dict) or new.get("type") != "incident":
        return pd_error(400, "Invalid Input Provided", 2001, ["incident must be an object with type incident"])
    if new.get("assignments") and new.get("escalation_policy"):
        # PagerDuty's reference: assignments "cannot be specified if an escalation policy is given".
        return pd_error(400, "Invalid Input Provided", 2001, ["Assignments cannot be specified with an escalation policy"])
    service_id = (new.get("service") or {}).get("id")
    title = new.get("title")
    if not title or not service_id:
        return pd_error(400, "Invalid Input Provided", 2001, ["title and service are required"])
    with fake.account.lock:
        if service_id not in fake.account.services:
            return pd_error(400, "Invalid Input Provided", 2001, ["Service not found"])
        if new.get("urgency") not in (None, "high", "low"):
            # REST OpenAPI (PagerDuty/api-schema, reference/REST/openapiv3.json, POST /incidents):
            # urgency is one of high, low.
            return pd_error(400, "Invalid Input Provided", 2001, ["Urgency must be high or low"])
        policy_ref = (new.get("escalation_policy") or {}).get("id")
        if policy_ref and policy_ref not in fake.account.escalation_policies:
            return pd_error(400, "Invalid Input Provided", 2001, ["Escalation Policy Not Found"])
        for assignment in new.get("assignments") or []:
            if (assignment.get("assignee") or {}).get("id") not in fake.account.users:
                return pd_error(400, "Invalid Input Provided", 2001, ["Assignee User Not Found"])
        key = new.get("incident_key")
        if key and any(
            i["incident_key"] == key and i["service_id"] == service_id and i["status"] != "resolved"
            for i in fake.account.incidents.values()
        ):
            return pd_error(400, "Invalid Input Provided", 2001, ["Open incident with key already exists"])
        created = fake.account.add_incident(
            title, service_id, urgency=new.get("urgency", "high"), incident_key=key
        )
        policy = (new.get("escalation_policy") or {}).get("id")
        if policy:
            created["escalation_policy_id"] = policy
        created["assignments"] = [a.get("assignee", {}).get("id") for a in new.get("assignments") or []]
        created["log"].append({"type": "trigger_log_entry", "from": request.header("from"), "at": now_iso()})
        return Response.json({"incident": fake.account.render_incident(created)}, status=201)


@_route("GET", "/incidents/{id}")
def _get_incident(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    with fake.account.lock:
        found = _incident_or_404(fake, args["id"])
        if isinstance(found, Response):
            return found
        return Response.json({"incident": fake.account.render_incident(found)})


#: Which statuses PUT /incidents/{id} may set, from which. As PagerDuty's reference says,
#: setting ``triggered`` or ``acknowledged`` on a resolved incident REOPENS it; resolving a
#: resolved one is refused.
_TRANSITIONS = {
    "triggered": {"triggered", "acknowledged", "resolved"},
    "acknowledged": {"triggered", "acknowledged", "resolved"},
    "resolved": {"triggered", "acknowledged"},
}


@_route("PUT", "/incidents/{id}")
def _update_incident(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    change = body.get("incident")
    if not isinstance(change, dict) or change.get("type") not in (
        "incident",
        "incident_reference",
    ):
        return pd_error(
            400,
            "Invalid Input Provided",
            2001,
            ["incident must be an object with type incident_reference"],
        )
    status = change.get("status")
    if status is not None and status not in _TRANSITIONS:
        return pd_error(
            400,
            "Invalid Input Provided",
            2001,
            ["Status must be one of resolved, acknowledged, triggered"],
        )
    with fake.account.lock:
        found = _incident_or_404(fake, args["id"])
        if isinstance(found, Response):
            return found
        if status is not None:
            if found["status"] not in _TRANSITIONS[status]:
                return pd_error(
                    400, "Invalid Input Provided", 2001, ["Incident Already Resolved"]
                )
            if found["status"] == "resolved":
                found["reopened"] = found.get("reopened", 0) + 1
            found["status"] = status
            found["last_status_change_at"] = now_iso()
        for key in ("title", "urgency"):
            if key in change:
                found[key] = change[key]
        found["log"].append(
            {
                "type": f"{status or 'update'}_log_entry",
                "from": request.header("from"),
                "at": now_iso(),
            }
        )
        return Response.json({"incident": fake.account.render_incident(found)})


@_route("POST", "/incidents/{id}/notes")
def _add_note(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    note = body.get("note")
    if (
        not isinstance(note, dict)
        or not isinstance(note.get("content"), str)
        or not note["content"].strip()
    ):
        return pd_error(
            400, "Invalid Input Provided", 2001, ["Note content cannot be empty"]
        )
    if len(note["content"]) > 65535:
        return pd_error(
            400, "Invalid Input Provided", 2001, ["Note content is too long"]
        )
    with fake.account.lock:
        found = _incident_or_404(fake, args["id"])
        if isinstance(found, Response):
            return found
        user = fake.user_by_email(request.header("from") or "")
        stored = {
            "id": fake.account.new_id("N"),
            "user": fake.account.ref("user", user["id"], user["name"])
            if user
            else None,
            "channel": {"summary": "The PagerDuty website or APIs"},
            "content": note["content"],
            "created_at": now_iso(),
        }
        found["notes"].append(stored)
        return Response.json({"note": stored}, status=201)


@_route("GET", "/incidents/{id}/notes")
def _list_notes(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    with fake.account.lock:
        found = _incident_or_404(fake, args["id"])
        if isinstance(found, Response):
            return found
        return Response.json({"notes": list(found["notes"])})


def _classic_page(request: Request, key: str, items: list[Any]) -> Response:
    """Classic offset pagination: ``limit`` (default 25, max 100), ``offset``, ``more``, ``total``."""
    try:
        limit = min(100, max(1, int(request.query.get("limit", ["25"])[0])))
        offset = max(0, int(request.query.get("offset", ["0"])[0]))
    except ValueError:
        return pd_error(
            400, "Invalid Input Provided", 2001, ["limit and offset must be integers"]
        )
    page = items[offset : offset + limit]
    want_total = request.query.get("total", ["false"])[0].lower() == "true"
    return Response.json(
        {
            key: page,
            "limit": limit,
            "offset": offset,
            "more": offset + len(page) < len(items),
            "total": len(items) if want_total else None,
        }
    )


@_route("GET", "/oncalls")
def _oncalls(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    policies = set(param_list(request.query, "escalation_policy_ids"))
    users = set(param_list(request.query, "user_ids"))
    include_users = "users" in param_list(request.query, "include")
    with fake.account.lock:
        found = [
            fake.account.render_oncall(o, include_users=include_users)
            for o in sorted(
                fake.account.oncalls,
                key=lambda o: (o["escalation_policy_id"], o["level"]),
            )
            if (not policies or o["escalation_policy_id"] in policies)
            and (not users or o["user_id"] in users)
        ]
    return _classic_page(request, "oncalls", found)


@_route("GET", "/users/{id}")
def _get_user(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    with fake.account.lock:
        user = fake.account.users.get(args["id"])
        if user is None:
            return pd_error(404, "Not Found", 2100, ["User Not Found"])
        return Response.json({"user": fake.account.render_user(user)})


@_route("GET", "/services/{id}")
def _get_service(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    with fake.account.lock:
        service = fake.account.services.get(args["id"])
        if service is None:
            return pd_error(404, "Not Found", 2100, ["Service Not Found"])
        return Response.json({"service": fake.account.render_service(service)})


# --------------------------------------------------------------------- Events API v2
@_route("POST", "/v2/enqueue")
def _enqueue(
    fake: FakePagerDuty, request: Request, args: dict[str, str], body: Any
) -> Response:
    if isinstance(body, ValueError) or body is None:
        return Response.json(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": ["Request body is not valid JSON"],
            },
            400,
        )
    errors = validate_event(body, fake.routing_keys)
    if errors:
        return Response.json(
            {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            },
            400,
        )
    dedup = apply_event(fake.account, body)
    return Response.json(
        {"status": "success", "message": "Event processed", "dedup_key": dedup}, 202
    )
