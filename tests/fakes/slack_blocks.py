"""Block Kit validation as Slack applies it to messages: what the real API refuses, refused.

Limits are the ones Slack's Block Kit reference publishes (blocks, text objects, block
elements). One limit is not published: the total size of a message's blocks
(``msg_blocks_too_long``); messages with about 13,000 characters of block text have been
refused, so the fake refuses above ``MAX_BLOCKS_TEXT`` (12,000, Slack's published total for
``markdown`` blocks). Errors carry Slack's ``response_metadata.messages`` pointer format.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.slack_state import SlackError

MAX_BLOCKS = 50
MAX_BLOCKS_TEXT = 12_000
MAX_BLOCK_ID = 255
MAX_SECTION_TEXT = 3_000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2_000
MAX_ACTION_ID = 255
MAX_URL = 3_000
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
OVERFLOW_OPTIONS = (1, 5)
TEXT_TYPES = ("plain_text", "mrkdwn")


def invalid(pointer: str, problem: str) -> SlackError:
    """``invalid_blocks`` with the pointer Slack adds (``[json-pointer:/blocks/0/text/text]``)."""
    return SlackError("invalid_blocks", response_metadata={"messages": [f"[ERROR] {problem} [json-pointer:{pointer}]"]})


def _text_object(value: Any, pointer: str, *, limit: int, plain_only: bool = False) -> int:
    """Validate a text object; returns its length (for the message's total)."""
    if not isinstance(value, dict) or value.get("type") not in TEXT_TYPES:
        raise invalid(pointer, "must provide an object with a valid text type")
    if plain_only and value["type"] != "plain_text":
        raise invalid(f"{pointer}/type", "must be plain_text")
    text = value.get("text")
    if not isinstance(text, str) or not text:
        raise invalid(f"{pointer}/text", "must be more than 0 characters")
    if len(text) > limit:
        raise invalid(f"{pointer}/text", f"must be less than {limit + 1} characters")
    if "verbatim" in value and (value["type"] != "mrkdwn" or not isinstance(value["verbatim"], bool)):
        raise invalid(f"{pointer}/verbatim", "verbatim is only allowed on mrkdwn text, as a boolean")
    if "emoji" in value and value["type"] != "plain_text":
        raise invalid(f"{pointer}/emoji", "emoji is only allowed on plain_text")
    return len(text)


def _max_length(value: Any, limit: int, pointer: str) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise invalid(pointer, f"must be a string of less than {limit + 1} characters")


def _option(option: Any, pointer: str) -> int:
    if not isinstance(option, dict):
        raise invalid(pointer, "must be an object")
    size = _text_object(option.get("text"), f"{pointer}/text", limit=MAX_OPTION_TEXT, plain_only=True)
    _max_length(option.get("value"), MAX_OPTION_VALUE, f"{pointer}/value")
    return size


def _element(element: Any, pointer: str) -> int:
    """An interactive element (button, overflow) in an actions block or a section accessory."""
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        raise invalid(pointer, "missing required field: type")
    _max_length(element.get("action_id"), MAX_ACTION_ID, f"{pointer}/action_id")
    kind = element["type"]
    if kind == "button":
        size = _text_object(element.get("text"), f"{pointer}/text", limit=MAX_BUTTON_TEXT, plain_only=True)
        _max_length(element.get("value"), MAX_BUTTON_VALUE, f"{pointer}/value")
        _max_length(element.get("url"), MAX_URL, f"{pointer}/url")
        if element.get("style") not in (None, "primary", "danger"):
            raise invalid(f"{pointer}/style", "must be primary or danger")
        return size
    if kind == "overflow":
        options = element.get("options")
        low, high = OVERFLOW_OPTIONS
        if not isinstance(options, list) or not low <= len(options) <= high:
            raise invalid(f"{pointer}/options", f"must have between {low} and {high} items")
        return sum(_option(option, f"{pointer}/options/{i}") for i, option in enumerate(options))
    return 0


def _block(block: dict[str, Any], pointer: str) -> int:
    kind = block["type"]
    _max_length(block.get("block_id"), MAX_BLOCK_ID, f"{pointer}/block_id")
    size = 0
    if kind == "section":
        if block.get("text") is None and not block.get("fields"):
            raise invalid(pointer, "must provide either text or fields")
        if block.get("text") is not None:
            size += _text_object(block["text"], f"{pointer}/text", limit=MAX_SECTION_TEXT)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > MAX_FIELDS:
                raise invalid(f"{pointer}/fields", f"must be less than {MAX_FIELDS + 1} items")
            size += sum(_text_object(f, f"{pointer}/fields/{i}", limit=MAX_FIELD_TEXT) for i, f in enumerate(fields))
        if block.get("accessory") is not None:
            size += _element(block["accessory"], f"{pointer}/accessory")
    elif kind == "header":
        size += _text_object(block.get("text"), f"{pointer}/text", limit=MAX_HEADER_TEXT, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_CONTEXT_ELEMENTS:
            raise invalid(f"{pointer}/elements", f"must have between 1 and {MAX_CONTEXT_ELEMENTS} items")
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") in TEXT_TYPES:
                size += _text_object(element, f"{pointer}/elements/{i}", limit=MAX_SECTION_TEXT)
    elif kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= MAX_ACTIONS_ELEMENTS:
            raise invalid(f"{pointer}/elements", f"must have between 1 and {MAX_ACTIONS_ELEMENTS} items")
        size += sum(_element(element, f"{pointer}/elements/{i}") for i, element in enumerate(elements))
    return size


def _unique_ids(block: dict[str, Any], pointer: str, seen: set[str]) -> None:
    """Block Kit reference (https://docs.slack.dev/reference/block-kit/blocks): a
    ``block_id`` "should be unique for each message", and an element's ``action_id``
    "unique among all other action_ids in the containing block"; Slack refuses repeats."""
    block_id = block.get("block_id")
    if isinstance(block_id, str):
        if block_id in seen:
            raise invalid(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
        seen.add(block_id)
    elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
    if isinstance(block.get("accessory"), dict):
        elements.append(block["accessory"])
    actions: set[str] = set()
    for i, element in enumerate(elements):
        action = element.get("action_id") if isinstance(element, dict) else None
        if isinstance(action, str):
            if action in actions:
                raise invalid(f"{pointer}/elements/{i}/action_id", f"duplicate action_id {action!r}")
            actions.add(action)


def validate_blocks(blocks: Any) -> list[dict[str, Any]]:
    """The ``blocks`` of a message, or the error Slack answers for them."""
    if not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if len(blocks) > MAX_BLOCKS:
        raise invalid("/blocks", f"must be less than {MAX_BLOCKS + 1} items")
    total = 0
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise invalid(f"/blocks/{i}", "missing required field: type")
        total += _block(block, f"/blocks/{i}")
        _unique_ids(block, f"/blocks/{i}", block_ids)
    if total > MAX_BLOCKS_TEXT:
        raise SlackError("msg_blocks_too_long")
    return blocks
