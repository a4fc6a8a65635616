"""Every Slack Web API call the deliverer makes: paced, and with failures translated.

The outbox only understands ``DeliveryError`` (retry, maybe after Retry-After) and success,
so this is where Slack's answers become those: 429 → retry after its Retry-After, 5xx and
connection failures → retry with backoff, ``ok: false`` → ``SlackCallFailed`` carrying the
error code, which callers either handle (``name_taken``, ``already_pinned``) or let become
a permanent failure.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.slack.pacing import Pacer
from bot.chat.slack.single_flight import SingleFlight
from bot.delivery.message import DeliveryError

log = logging.getLogger(__name__)

#: ``ok: false`` codes that mean "try again later", not "this will never work".
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)

#: How many pages of conversations.list a name lookup may read (1000 channels each).
MAX_LIST_PAGES = 20

#: Calls made so far by the delivery running in this task (see ``counting_calls``).
_SENT_IN_DELIVERY: ContextVar[list[int] | None] = ContextVar("firebreak_slack_calls_in_delivery", default=None)


@contextlib.contextmanager
def counting_calls() -> Iterator[None]:
    """Around one delivery: lets a pacing deferral tell whether anything was sent before it."""
    token = _SENT_IN_DELIVERY.set([0])
    try:
        yield
    finally:
        _SENT_IN_DELIVERY.reset(token)


class SlackCallFailed(DeliveryError):
    """Slack answered ``ok: false``; ``code`` is its error string (``name_taken`` …)."""

    def __init__(self, method: str, code: str, response: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{method}: {code}", retryable=code in TRANSIENT_ERRORS)
        self.method = method
        self.code = code
        self.response = dict(response or {})


class SlackGateway:
    def __init__(self, client: AsyncWebClient, pacer: Pacer) -> None:
        self.client = client
        self.pacer = pacer
        self._bot_user_id: str | None = None
        self._asking: SingleFlight[Any] = SingleFlight()  # concurrent deliveries asking the same question
        self._channel_ids: dict[str, str] = {}

    async def call(self, method: str, **arguments: Any) -> dict[str, Any]:
        channel = arguments.get("channel") or arguments.get("channel_id")
        sent = _SENT_IN_DELIVERY.get()
        try:
            await self.pacer.wait_turn(method, channel)
        except DeliveryError as deferred:
            # "Nothing sent" holds only for the whole delivery: an earlier call of the same
            # operation (a channel created, a summary posted) makes the next attempt a retry.
            deferred.not_sent = deferred.not_sent and sent is not None and sent[0] == 0
            raise
        if sent is not None:
            sent[0] += 1
        function = getattr(self.client, method.replace(".", "_"))
        try:
            response = await function(**arguments)
        except SlackApiError as error:
            raise self._translate(method, channel, error) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise DeliveryError(f"{method}: {type(error).__name__}: {error}") from error
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _translate(self, method: str, channel: str | None, error: SlackApiError) -> DeliveryError:
        response = error.response
        status = getattr(response, "status_code", 200)
        data = response.data if isinstance(getattr(response, "data", None), dict) else {}
        if status == 429:
            retry_after = _retry_after(getattr(response, "headers", {}) or {})
            self.pacer.penalise(method, channel, retry_after)
            return DeliveryError(f"{method}: rate limited (429), retry after {retry_after:g}s", retry_after=retry_after)
        if status >= 500:
            retry_after = _retry_after(getattr(response, "headers", {}) or {}, default=None)
            return DeliveryError(f"{method}: Slack answered {status}", retry_after=retry_after)
        return SlackCallFailed(method, str(data.get("error") or f"http_{status}"), data)

    # -- helpers several operations share ------------------------------------------

    async def bot_user_id(self) -> str:
        """Our own user id (auth.test), asked once even when many deliveries start together."""
        if self._bot_user_id is None:
            # Cached inside the shared call, not after it: a delivery that looks between the
            # call finishing and its first waiter resuming must find the answer, not ask again.
            async def ask() -> str:
                answer = await self.call("auth.test")
                self._bot_user_id = str(answer.get("user_id") or "")
                return self._bot_user_id

            return str(await self._asking.run("auth.test", ask))
        return self._bot_user_id

    async def channel_id(self, ref: str) -> str:
        """A channel id for ``#name``, ``name`` or an id (ids pass through without a call)."""
        name = ref.lstrip("#")
        if not ref.startswith("#") and name[:1] in ("C", "G") and name.upper() == name:
            return name
        if name not in self._channel_ids:

            async def look_up() -> dict[str, Any] | None:
                found = await self.find_channel(name)
                if found is not None:
                    self._channel_ids[name] = str(found["id"])  # cached inside the shared call, as above
                return found

            if await self._asking.run(f"channel:{name}", look_up) is None:
                raise SlackCallFailed("conversations.list", "channel_not_found")
        return self._channel_ids[name]

    async def find_channel(self, name: str) -> dict[str, Any] | None:
        """Look a channel up by name (bounded pagination); archived ones count, like Slack's names."""
        cursor = ""
        for _ in range(MAX_LIST_PAGES):
            answer = await self.call(
                "conversations.list", types="public_channel,private_channel", limit=1000, cursor=cursor or None
            )
            for channel in answer.get("channels", []):
                if channel.get("name") == name:
                    return dict(channel)
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        log.warning("channel lookup gave up after %d pages", MAX_LIST_PAGES, extra={"channel_name": name})
        return None

    async def find_own_message(self, channel: str, event_type: str, key: str, *, limit: int = 100) -> str | None:
        """The ts of a message we posted earlier with metadata ``event_type``/``key``.

        The outbox retries after a crash or timeout without knowing whether Slack got the
        first attempt; chat.postMessage has no idempotency key, so we look before repeating.
        """
        found = await self.find_own_messages(channel, event_type, [key], limit=limit)
        return found.get(key)

    async def find_own_messages(
        self, channel: str, event_type: str, keys: list[str], *, thread_ts: str | None = None, limit: int = 100
    ) -> dict[str, str]:
        """{key: ts} of our earlier messages among ``keys`` (a thread's replies when ``thread_ts``).

        History is only readable by members. Not being one means nothing of ours can be
        there (posting needs membership too: ``gateway.post`` joins first), so the channel is
        joined, for this read and the post that follows, and the answer is "none".
        """
        method = "conversations.replies" if thread_ts else "conversations.history"
        arguments: dict[str, Any] = {"channel": channel, "limit": limit, "include_all_metadata": True}
        if thread_ts:
            arguments["ts"] = thread_ts
        try:
            answer = await self.call(method, **arguments)
        except SlackCallFailed as error:
            if error.code != "not_in_channel":
                raise
            await self.join(channel)
            return {}
        wanted = set(keys)
        found: dict[str, str] = {}
        for message in answer.get("messages", []):
            metadata = message.get("metadata") or {}
            key = str((metadata.get("event_payload") or {}).get("key"))
            if metadata.get("event_type") == event_type and key in wanted:
                found[key] = str(message["ts"])
        return found

    async def join(self, channel: str) -> None:
        """conversations.join: a public channel only; a private one needs an invitation.

        Slack answers ``method_not_supported_for_channel_type`` for a private channel, which
        becomes a permanent failure naming the fix.
        """
        try:
            await self.call("conversations.join", channel=await self.channel_id(channel))
        except SlackCallFailed as error:
            if error.code in ("method_not_supported_for_channel_type", "channel_not_found"):
                raise SlackCallFailed(
                    "conversations.join", f"{error.code}: invite the Firebreak app to {channel} (/invite @firebreak)", error.response
                ) from error
            raise

    async def call_as_member(self, method: str, channel: str, **arguments: Any) -> dict[str, Any]:
        """A call that needs the bot in the channel (conversations.setTopic, .invite).

        Someone may have removed the app from an incident channel; Slack then answers
        ``not_in_channel``. The channel is joined (public channels only) and the call made
        once more, as :meth:`post` does.
        """
        try:
            return await self.call(method, channel=channel, **arguments)
        except SlackCallFailed as error:
            if error.code != "not_in_channel":
                raise
        await self.join(channel)
        return await self.call(method, channel=channel, **arguments)

    async def post(self, channel: str, **arguments: Any) -> dict[str, Any]:
        """chat.postMessage, joining a public channel first if the bot is not in it yet.

        Posting needs membership (the app does not ask for ``chat:write.public``), which is
        also what lets a retry read the channel's history to avoid posting twice.
        """
        try:
            return await self.call("chat.postMessage", channel=channel, **arguments)
        except SlackCallFailed as error:
            if error.code == "channel_not_found":  # or private, and the app was never invited
                raise SlackCallFailed("chat.postMessage", f"channel_not_found: {channel} does not exist or is private; invite the Firebreak app (/invite @firebreak)", error.response) from error
            if error.code != "not_in_channel":
                raise
        await self.join(channel)
        return await self.call("chat.postMessage", channel=channel, **arguments)

    async def user_name(self, user_id: str) -> str | None:
        """A person's display name (users.info), for plain-text places such as topics."""
        try:
            answer = await self.call("users.info", user=user_id)
        except SlackCallFailed as error:
            if error.code in ("user_not_found", "user_not_visible"):
                return None
            raise
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or user.get("name")
        return str(name) if name else None

    async def user_ids_for_emails(self, emails: list[str]) -> tuple[list[str], list[str]]:
        """(found ids, emails with no Slack user). Unknown emails are reported, not fatal."""
        found: list[str] = []
        missing: list[str] = []
        for email in emails:
            try:
                answer = await self.call("users.lookupByEmail", email=email)
            except SlackCallFailed as error:
                if error.code == "users_not_found":
                    missing.append(email)
                    continue
                raise
            user_id = str((answer.get("user") or {}).get("id") or "")
            if user_id and user_id not in found:
                found.append(user_id)
        return found, missing


def _retry_after(headers: Mapping[str, Any], default: float | None = 30.0) -> Any:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return default
    return default
