"""Fake external file upload flow (what ``files_upload_v2`` uses) and ``views.*`` methods.

The upload flow is three steps: files.getUploadURLExternal hands out a URL, the client POSTs
the raw bytes there (to the fake itself), and files.completeUploadExternal shares the file.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.fakes.slack_methods_base import Ctx, method
from tests.fakes.slack_requests import ISSUED_TRIGGERS, TRIGGER_LIFETIME
from tests.fakes.slack_state import SlackError, Workspace

UPLOAD_PATH_PREFIX = "/upload/v1/"
MAX_MODAL_BLOCKS = 100


@method("files.getUploadURLExternal")
def get_upload_url(ctx: Ctx) -> dict[str, Any]:
    filename = ctx.params.text("filename")
    length = ctx.params.integer("length", 0)
    if length <= 0:
        raise SlackError("invalid_arguments", arg="length")
    ws = ctx.ws
    file_id = ws.new_id("F")
    token = secrets.token_urlsafe(16)
    ws.files[file_id] = {
        "id": file_id,
        "name": filename,
        "title": filename,
        "size": length,
        "alt_txt": ctx.params.text("alt_txt", required=False) or None,
        "_uploaded": False,
        "_content": b"",
    }
    ws.uploads[token] = file_id
    return {
        "upload_url": f"{ctx.base_url}{UPLOAD_PATH_PREFIX}{token}",
        "file_id": file_id,
    }


def receive_upload(ws: Workspace, token: str, body: bytes) -> bool:
    """Store the bytes POSTed to an upload URL; False when the URL is unknown."""
    with ws.lock:
        file_id = ws.uploads.pop(token, None)
        if file_id is None:
            return False
        ws.files[file_id]["_content"] = body
        ws.files[file_id]["_uploaded"] = True
        return True


def _public_file(ws: Workspace, file: dict[str, Any]) -> dict[str, Any]:
    name = file["name"]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "text"
    return {
        "id": file["id"],
        "created": int(time.time()),
        "timestamp": int(time.time()),
        "name": name,
        "title": file["title"],
        "mimetype": "text/plain"
        if ext in {"txt", "md", "text"}
        else "application/octet-stream",
        "filetype": ext,
        "pretty_type": ext.upper(),
        "user": ws.bot_user_id,
        "user_team": ws.team_id,
        "mode": "hosted",
        "editable": False,
        "is_external": False,
        "is_public": True,
        "size": len(file["_content"]),
        "url_private": f"https://files.slack.com/files-pri/{ws.team_id}-{file['id']}/{name}",
        "permalink": f"https://{ws.team}.slack.com/files/{ws.bot_user_id}/{file['id']}/{name}",
        "shares": file.get("shares", {}),
    }


@method("files.completeUploadExternal")
def complete_upload(ctx: Ctx) -> dict[str, Any]:
    ws = ctx.ws
    entries = ctx.params.structured("files")
    if not isinstance(entries, list) or not entries:
        raise SlackError("invalid_arguments", arg="files")
    completed = []
    for entry in entries:
        file = ws.files.get(entry.get("id", "")) if isinstance(entry, dict) else None
        if file is None or not file["_uploaded"]:
            raise SlackError("file_not_found")
        if entry.get("title"):
            file["title"] = entry["title"]
        completed.append(file)
    targets = [
        c
        for c in [
            ctx.params.text("channel_id", required=False),
            *ctx.params.csv("channels"),
        ]
        if c
    ]
    for ref in targets:
        channel = ws.channel(ref)
        if channel.is_archived:
            raise SlackError("is_archived")
        ts = ws.new_ts()
        for file in completed:
            file.setdefault("shares", {}).setdefault("public", {})[channel.id] = [
                {"ts": ts}
            ]
        channel.messages.append(
            {
                "type": "message",
                "user": ws.bot_user_id,
                "ts": ts,
                "text": ctx.params.text("initial_comment", required=False),
                "files": [_public_file(ws, f) for f in completed],
                "upload": True,
            }
        )
    return {"files": [_public_file(ws, f) for f in completed]}


MAX_VIEW_TITLE = 24
"""Modal ``title``, ``submit`` and ``close`` texts (plain_text), as Slack's view reference says."""
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_INPUT_LABEL = 2000
MAX_INPUT_LENGTH = 3000


def _view_error(pointer: str, problem: str) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {problem} [json-pointer:/view{pointer}]"]})


def _check_view_limits(view: dict[str, Any]) -> None:
    """The view-level limits Slack refuses with ``invalid_arguments``."""
    for name in ("title", "submit", "close"):
        text = view.get(name)
        if text is None:
            continue
        if not isinstance(text, dict) or text.get("type") != "plain_text" or not 0 < len(str(text.get("text") or "")) <= MAX_VIEW_TITLE:
            raise _view_error(f"/{name}/text", f"must be plain_text of 1 to {MAX_VIEW_TITLE} characters")
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        raise _view_error("/private_metadata", f"must be less than {MAX_PRIVATE_METADATA + 1} characters")
    if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID:
        raise _view_error("/callback_id", f"must be less than {MAX_CALLBACK_ID + 1} characters")
    for index, block in enumerate(view.get("blocks") or []):
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        label = block.get("label") or {}
        if not 0 < len(str(label.get("text") or "")) <= MAX_INPUT_LABEL:
            raise _view_error(f"/blocks/{index}/label/text", f"must be 1 to {MAX_INPUT_LABEL} characters")
        element = block.get("element") or {}
        if int(element.get("max_length") or 0) > MAX_INPUT_LENGTH:
            raise _view_error(f"/blocks/{index}/element/max_length", f"must be at most {MAX_INPUT_LENGTH}")


def _view(ctx: Ctx, expected_type: str) -> dict[str, Any]:
    view = ctx.params.structured("view", error="invalid_arguments")
    if not isinstance(view, dict) or view.get("type") != expected_type:
        raise SlackError("invalid_arguments", arg="view")
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or len(blocks) > MAX_MODAL_BLOCKS:
        raise SlackError("invalid_arguments", arg="view.blocks")
    if expected_type == "modal" and not isinstance(view.get("title"), dict):
        raise SlackError("invalid_arguments", arg="view.title")
    _check_view_limits(view)
    view_id = ctx.ws.new_id("V")
    stored = {
        "id": view_id,
        "team_id": ctx.ws.team_id,
        "state": {"values": {}},
        "hash": secrets.token_hex(8),
        "private_metadata": "",
        "callback_id": "",
        "root_view_id": view_id,
        "app_id": "A0FIREBRK",
        "bot_id": ctx.ws.bot_id,
        **view,
    }
    ctx.ws.views[view_id] = stored
    return stored


@method("views.open")
def views_open(ctx: Ctx) -> dict[str, Any]:
    """A trigger is good once, for three seconds (Slack's modals guide; the errors
    ``expired_trigger_id`` and ``exchanged_trigger_id`` in the views.open reference,
    https://docs.slack.dev/reference/methods/views.open). Enforced for the triggers
    :func:`tests.fakes.slack_requests.trigger_id` issued; literal ids in tests pass."""
    trigger = ctx.params.text("trigger_id", error="invalid_trigger_id")
    issued = ISSUED_TRIGGERS.get(trigger)
    if issued is not None:
        if trigger in ctx.ws.exchanged_triggers:
            raise SlackError("exchanged_trigger_id")
        if time.time() - issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
    view = _view(ctx, "modal")
    if issued is not None:
        ctx.ws.exchanged_triggers.add(trigger)
    return {"view": view}


@method("views.publish")
def views_publish(ctx: Ctx) -> dict[str, Any]:
    ctx.ws.user(ctx.params.text("user_id", error="user_not_found"))
    return {"view": _view(ctx, "home")}
