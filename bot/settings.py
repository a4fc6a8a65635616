"""Configuration from the environment and ``.env``, validated once at start.

Everything operators can set lives here so that a typo fails the start-up with a message
that names the variable, instead of failing at 3 a.m. on the first alert.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.domain.durations import parse_duration
from bot.domain.escalation import DEFAULT_SPEED
from bot.domain.escalation_parse import parse_policy
from bot.domain.severity import DEFAULT_LABEL_MAPPING, Severity
from bot.ingest.alertmanager.identity import SOURCE_NAME
from bot.ingest.pagerduty.priorities import DEFAULT_PRIORITY_MAPPING

_ADMIN_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")
#: Upper bounds of the settings that are added to a moment (a lease, an archive time, a quiet
#: period) or waited for. Without them ``FIREBREAK_OUTBOX_LEASE_SECONDS=1e12`` overflowed the
#: date at every claim, so nothing was delivered; ``SLACK_ARCHIVE_AFTER_SECONDS`` as large
#: failed every resolve; ``inf`` as a poll interval never polled and ``1e-300`` never slept.
_DAY = 86400
_MONTH = 30 * _DAY
_YEAR = 365 * _DAY
_MIN_POLL = 0.01
_MAX_POLL = 3600.0
#: Largest FIREBREAK_ESCALATION_SPEED factor: a 30-day delay (the longest) times this still
#: lands in a calendar year Python can hold.
MAX_ESCALATION_SPEED = 1000.0


def _split_list(value: str) -> list[str]:
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


#: Settings that hold a secret: refused when they look copied from an example.
_SECRETS = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "pagerduty_api_token",
    "pagerduty_webhook_secret",
    "pagerduty_routing_key",
    "alertmanager_token",
    "api_token",
    "web_token",
    "web_session_secret",
)


#: Secrets a person types into the sign-in form or that only sign cookies: any text will do.
_TYPED_SECRETS = frozenset({"web_token", "web_session_secret"})


class SettingsError(Exception):
    """Raised with a readable, multi-line explanation of every invalid setting."""


class Settings(BaseSettings):
    # ``NAME=`` (the empty lines of .env.example, uncommented) means "not set": the default.
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # Storage
    database_url: str = Field("sqlite:///firebreak.db", alias="DATABASE_URL")

    # Slack
    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_incidents_channel: str = Field("#incidents", alias="SLACK_INCIDENTS_CHANNEL")
    slack_flag_reaction: str = Field("pushpin", alias="SLACK_FLAG_REACTION")
    slack_archive_after_seconds: int = Field(24 * 3600, alias="SLACK_ARCHIVE_AFTER_SECONDS", ge=0, le=_YEAR)

    # PagerDuty
    pagerduty_api_token: str | None = Field(None, alias="PAGERDUTY_API_TOKEN")
    pagerduty_api_url: str = Field("https://api.pagerduty.com", alias="PAGERDUTY_API_URL")
    pagerduty_from_email: str | None = Field(None, alias="PAGERDUTY_FROM_EMAIL")
    pagerduty_webhook_secret: str | None = Field(None, alias="PAGERDUTY_WEBHOOK_SECRET")
    pagerduty_routing_key: str | None = Field(None, alias="PAGERDUTY_ROUTING_KEY")
    pagerduty_events_url: str = Field("https://events.pagerduty.com", alias="PAGERDUTY_EVENTS_URL")
    pagerduty_service_id: str | None = Field(None, alias="PAGERDUTY_SERVICE_ID")
    pagerduty_priority_mapping: Annotated[dict[str, Severity], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PRIORITY_MAPPING), alias="PAGERDUTY_PRIORITY_MAPPING"
    )

    # Inbound auth
    alertmanager_token: str | None = Field(None, alias="ALERTMANAGER_TOKEN")
    alertmanager_tokens: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, alias="ALERTMANAGER_TOKENS")
    api_token: str | None = Field(None, alias="FIREBREAK_API_TOKEN")

    # Behaviour
    playbooks_dir: Path = Field(Path("playbooks"), alias="FIREBREAK_PLAYBOOKS_DIR")
    port: int = Field(8080, alias="PORT", ge=1, le=65535)
    host: str = Field("127.0.0.1", alias="FIREBREAK_HOST")
    max_body_bytes: int = Field(1024 * 1024, alias="FIREBREAK_MAX_BODY_BYTES", ge=1024)
    timezone: str = Field("UTC", alias="FIREBREAK_TIMEZONE")
    log_format: str = Field("auto", alias="FIREBREAK_LOG_FORMAT")
    log_level: str = Field("INFO", alias="FIREBREAK_LOG_LEVEL")
    templates_dir: Path | None = Field(None, alias="FIREBREAK_TEMPLATES_DIR")
    severity_mapping: Annotated[dict[str, Severity], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_LABEL_MAPPING), alias="FIREBREAK_SEVERITY_MAPPING"
    )
    auto_resolve: Annotated[list[Severity], NoDecode] = Field(
        default_factory=lambda: [Severity.P3], alias="FIREBREAK_AUTO_RESOLVE"
    )
    reminder_after_seconds: int = Field(30 * 60, alias="FIREBREAK_REMINDER_AFTER_SECONDS", ge=60, le=_MONTH)
    default_escalation_policy: str = Field(
        "unacknowledged:5m:@oncall-primary,unacknowledged:15m:@oncall-secondary",
        alias="FIREBREAK_DEFAULT_ESCALATION",
    )
    escalation_speed: Annotated[dict[Severity, float], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_SPEED), alias="FIREBREAK_ESCALATION_SPEED"
    )
    outbox_max_attempts: int = Field(25, alias="FIREBREAK_OUTBOX_MAX_ATTEMPTS", ge=1)
    outbox_poll_seconds: float = Field(0.5, alias="FIREBREAK_OUTBOX_POLL_SECONDS", ge=_MIN_POLL, le=_MAX_POLL)
    outbox_lease_seconds: float = Field(60.0, alias="FIREBREAK_OUTBOX_LEASE_SECONDS", ge=1, le=_DAY)
    inbox_poll_seconds: float = Field(1.0, alias="FIREBREAK_INBOX_POLL_SECONDS", ge=_MIN_POLL, le=_MAX_POLL)
    pg_notify: bool = Field(True, alias="FIREBREAK_PG_NOTIFY")
    db_pool_max: int = Field(30, alias="FIREBREAK_DB_POOL_MAX", ge=2, le=1000)
    outbox_setup_per_claim: int = Field(8, alias="FIREBREAK_OUTBOX_SETUP_PER_CLAIM", ge=1, le=32)
    summary_batch_seconds: float = Field(2.0, alias="FIREBREAK_SUMMARY_BATCH_SECONDS", ge=0, le=60)

    # Permissions (docs/permissions.md)
    admins_text: str = Field("", alias="FIREBREAK_ADMINS")
    takeover_after_text: str = Field("off", alias="FIREBREAK_TAKEOVER_AFTER")

    # Alert storms (docs/alerting-sources.md): related groups join one incident
    correlate_by_text: str = Field("", alias="FIREBREAK_CORRELATE_BY")
    correlate_window_text: str = Field("5m", alias="FIREBREAK_CORRELATE_WINDOW")
    storm_threshold: int = Field(10, alias="FIREBREAK_STORM_THRESHOLD", ge=0)
    storm_window_text: str = Field("5m", alias="FIREBREAK_STORM_WINDOW")
    storm_exempt: Annotated[list[Severity], NoDecode] = Field(default_factory=lambda: [Severity.P0], alias="FIREBREAK_STORM_EXEMPT")

    # Floods
    inbox_max_rows: int = Field(100_000, alias="FIREBREAK_INBOX_MAX_ROWS", ge=1)
    max_connections: int = Field(1000, alias="FIREBREAK_MAX_CONNECTIONS", ge=1)
    header_timeout_seconds: float = Field(10.0, alias="FIREBREAK_HEADER_TIMEOUT_SECONDS", gt=0, le=300)
    body_timeout_seconds: float = Field(30.0, alias="FIREBREAK_BODY_TIMEOUT_SECONDS", gt=0, le=600)
    keep_alive_seconds: int = Field(5, alias="FIREBREAK_KEEP_ALIVE_SECONDS", ge=1, le=300)
    health_port: int | None = Field(None, alias="FIREBREAK_HEALTH_PORT", ge=1, le=65535)

    # Web view (docs/web.md)
    public_url: str | None = Field(None, alias="FIREBREAK_PUBLIC_URL")
    web_token: str | None = Field(None, alias="FIREBREAK_WEB_TOKEN", min_length=16)
    web_user_header: str | None = Field(None, alias="FIREBREAK_WEB_USER_HEADER")
    web_trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list, alias="FIREBREAK_WEB_TRUSTED_PROXIES")
    web_session_secret: str | None = Field(None, alias="FIREBREAK_WEB_SESSION_SECRET", min_length=32)

    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        """A pasted ``\r`` or tab inside a token or path is never meant, and fails later and obscurely."""
        if isinstance(value, str) and _CONTROL.search(value):
            raise ValueError("contains a control character (a stray tab, newline or carriage return?)")
        return value

    @field_validator(*_SECRETS)
    @classmethod
    def _not_a_placeholder(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A value copied from an example (``change-me…``) is known to everyone who read it:
        accepting it would let anyone sign their own session cookie or post alerts."""
        if value is not None and _PLACEHOLDER.search(value):
            raise ValueError(
                "looks like a placeholder from an example, which anyone can read: "
                "make a random one (openssl rand -hex 32) or leave it unset"
            )
        # Each of a comma-separated list (a secret being rotated) on its own; empty is unset.
        parts = [part.strip() for part in (value or "").split(",") if part.strip()]
        if info.field_name not in _TYPED_SECRETS and not all(_PRINTABLE_ASCII.fullmatch(part) for part in parts):
            raise ValueError(NOT_ASCII)
        return value

    @field_validator("alertmanager_tokens")
    @classmethod
    def _no_placeholder_source_token(cls, value: dict[str, str]) -> dict[str, str]:
        for name, token in value.items():
            if _PLACEHOLDER.search(token):
                raise ValueError(f"the token of source {name!r} looks like a placeholder from an example: make a random one (openssl rand -hex 24)")
            if not _PRINTABLE_ASCII.fullmatch(token):
                raise ValueError(f"the token of source {name!r} {NOT_ASCII}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # psycopg 3 is the driver we ship; SQLAlchemy's bare scheme means psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg")):
            raise ValueError("must be sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB")
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB") from None
        except ValueError:  # the message never repeats the URL: it may carry the password
            raise ValueError("the port in the URL is not a number") from None
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
            folder = Path(url.database).expanduser().absolute().parent
            if not folder.is_dir():
                raise ValueError(f"the folder {folder} of the SQLite file does not exist")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not _HOST.fullmatch(value):
            raise ValueError(f"{value!r} is not a host name or IP address to listen on (e.g. 127.0.0.1 or 0.0.0.0)")
        return value

    @field_validator("slack_incidents_channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slack channel: #name (lowercase, no spaces) or an id like C0123ABC")
        return value

    @field_validator("slack_flag_reaction")
    @classmethod
    def _reaction(cls, value: str) -> str:
        value = value.strip(":")
        if not _REACTION.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slack emoji name (like pushpin, without colons)")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LEVELS:
            raise ValueError(f"must be one of {', '.join(_LEVELS)}")
        return level

    @field_validator("playbooks_dir")
    @classmethod
    def _playbooks_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file; give the folder that holds the playbook YAML files")
        return value

    @field_validator("alertmanager_tokens", mode="before")
    @classmethod
    def _source_tokens(cls, value: Any) -> Any:
        """``prod:secret1,staging:secret2``: a token per webhook source (``?source=prod``)."""
        if not isinstance(value, str):
            return value
        tokens: dict[str, str] = {}
        for item in (part.strip() for part in value.split(",")):
            if not item:
                continue
            name, colon, token = item.partition(":")
            name, token = name.strip(), token.strip()
            if not colon or not token:
                raise ValueError(f"{item.split(':')[0]!r}: write each source as name:token, comma-separated")
            if SOURCE_NAME.fullmatch(name) is None:
                raise ValueError(f"source name {name[:40]!r} must be 1-32 characters of a-z, 0-9, '-' or '_'")
            if name in tokens:
                raise ValueError(f"source {name!r} is listed twice")
            tokens[name] = token
        return tokens

    @field_validator("database_url")
    @classmethod
    def _parsable_database_url(cls, value: str) -> str:
        # The message never repeats the URL: it may carry the database password.
        try:
            make_url(value).port  # noqa: B018 (a port that is not a number fails here, not at the first query)
        except ArgumentError:
            raise ValueError("not a database URL: use sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB") from None
        except ValueError:
            raise ValueError("the port in the URL is not a number") from None
        return value

    @field_validator("pagerduty_api_url", "pagerduty_events_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        """The pagerduty client refuses anything but https, so refuse it here, by name."""
        return _checked_url(value, schemes=("https",))

    @field_validator("slack_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _checked_url(value, schemes=("https", "http"))

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """The address people open, as every link to a page is made from it: ``/incidents/7``
        is appended, so no query or fragment; it is posted in every channel and post-mortem,
        so no user name or password; and the scheme and host in lower case, because the
        session cookie is marked ``Secure`` when it starts with ``https://`` and a form is
        accepted from the ``Origin`` it names (``HTTPS://…`` lost the one and failed the other)."""
        if value is None:
            return None
        parts = urlsplit(_checked_url(value, schemes=("https", "http")))
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not hold a user name or password: it is posted in every incident channel and post-mortem")
        if parts.query or parts.fragment or "?" in value or "#" in value:
            raise ValueError("must not have a query (?…) or fragment (#…): page addresses are made by appending /incidents/<n>")
        if any(char.isspace() for char in value.strip()):
            raise ValueError("must not contain spaces")
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}".rstrip("/")

    @field_validator("web_user_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be an HTTP header name like X-Forwarded-User")
        return value

    @field_validator("web_trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        """Addresses or networks (``10.0.0.0/8``) of the proxies whose user header is believed."""
        if not isinstance(value, str):
            return value
        networks = _split_list(value)
        for network in networks:
            try:
                parsed = ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an IP address or network (like 10.0.0.5 or 10.0.0.0/8)") from None
            # Every address a listed network holds may name any user in the proxy header and
            # chooses the address its sign-in attempts are counted under: a /0 lets anyone
            # on the internet sign in as anyone.
            if parsed.prefixlen == 0:
                raise ValueError(f"{network!r} trusts every address: name the proxy's own address (like 10.0.0.5)")
        return networks

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return value

    @field_validator("templates_dir")
    @classmethod
    def _existing_templates_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder (it overrides the post-mortem templates)")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        if value not in {"auto", "json", "console"}:
            raise ValueError("must be auto, json or console")
        return value

    @field_validator("default_escalation_policy")
    @classmethod
    def _valid_escalation(cls, value: str) -> str:
        parse_policy(value)
        return value

    @field_validator("escalation_speed")
    @classmethod
    def _positive_speed(cls, value: dict[Severity, float]) -> dict[Severity, float]:
        # ``not 0 < factor <= MAX``, not ``factor <= 0``: NaN compares false either way, and
        # NaN, infinity or 1e12 made planning the escalation of every incident of that
        # severity raise, so its alerts opened no incident.
        if any(not 0 < factor <= MAX_ESCALATION_SPEED for factor in value.values()):
            raise ValueError(
                f"factors multiply the delays and must be above 0 and at most {MAX_ESCALATION_SPEED:g}"
                " (leave a severity out to not escalate it)"
            )
        return value

    @field_validator("pagerduty_priority_mapping", mode="before")
    @classmethod
    def _priorities_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object of priority name to severity, e.g. {"P1": "P1", "P4": "P3"}') from None
        return value

    @field_validator("pagerduty_priority_mapping")
    @classmethod
    def _named_priorities(cls, value: dict[str, Severity]) -> dict[str, Severity]:
        if any(not name.strip() for name in value):
            raise ValueError("priority names must not be empty (e.g. {\"P1\": \"P1\", \"P4\": \"P3\"})")
        return value

    @field_validator("auto_resolve", mode="before")
    @classmethod
    def _split_severities(cls, value: Any) -> Any:
        """``P3``, ``P2,P3`` or JSON ``["P2","P3"]``; ``none`` for no automatic resolve."""
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                return _json(stripped, 'a list like ["P2","P3"]')
            if stripped.lower() == "none":
                return []
            return [part.strip().upper() for part in stripped.split(",") if part.strip()]
        return value

    @field_validator("severity_mapping", mode="before")
    @classmethod
    def _mapping_text(cls, value: Any) -> Any:
        """JSON ``{"critical":"P1"}`` or ``critical=P1,warning=P3``; label values are matched lower-case."""
        if isinstance(value, str):
            value = _pairs(value, 'an object like {"critical":"P1","warning":"P3"}')
        if isinstance(value, dict):
            return {str(key).strip().lower(): (str(level).strip().upper() if isinstance(level, str) else level) for key, level in value.items()}
        return value

    @field_validator("escalation_speed", mode="before")
    @classmethod
    def _speed_text(cls, value: Any) -> Any:
        """JSON ``{"P0":0.5,"P1":1}`` or ``P0=0.5,P1=1``."""
        if isinstance(value, str):
            value = _pairs(value, 'an object like {"P0":0.5,"P1":1,"P2":2}')
        if isinstance(value, dict):
            return {str(key).strip().upper(): factor for key, factor in value.items()}
        return value

    @field_validator("admins_text")
    @classmethod
    def _slack_ids(cls, value: str) -> str:
        for item in _split_list(value):
            if not _ADMIN_ID.match(item):
                raise ValueError(
                    f"{item!r} is not a Slack user id (U… or W…) or user-group id (S…);"
                    " find them in a profile's ⋮ menu → Copy member ID, or a group's ⋮ menu → Copy group ID"
                )
        return value

    @field_validator("correlate_by_text")
    @classmethod
    def _label_names(cls, value: str) -> str:
        for name in _split_list(value):
            if not _LABEL_NAME.fullmatch(name):
                raise ValueError(f"{name[:60]!r} is not a Prometheus label name (letters, digits and _, not starting with a digit)")
        return value

    @field_validator("correlate_window_text", "storm_window_text")
    @classmethod
    def _window(cls, value: str) -> str:
        seconds = parse_duration(value)
        if not 60 <= seconds <= 86400:
            raise ValueError("must be between 1m and 1d (e.g. 5m)")
        return value.strip().lower()

    @field_validator("storm_exempt", mode="before")
    @classmethod
    def _exempt_severities(cls, value: Any) -> Any:
        """``P0`` or ``P0,P1`` (``none``: every severity may be folded into a storm incident)."""
        if isinstance(value, str):
            if value.strip().lower() == "none":
                return []
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @property
    def correlate_by(self) -> tuple[str, ...]:
        """Label names related alert groups must share to join one incident (empty: off)."""
        return tuple(dict.fromkeys(_split_list(self.correlate_by_text)))

    @property
    def correlate_window(self) -> timedelta:
        return timedelta(seconds=parse_duration(self.correlate_window_text))

    @property
    def storm_window(self) -> timedelta:
        return timedelta(seconds=parse_duration(self.storm_window_text))

    @field_validator("takeover_after_text")
    @classmethod
    def _takeover_duration(cls, value: str) -> str:
        if value.strip().lower() in ("", "off"):
            return "off"
        seconds = parse_duration(value)
        if not 60 <= seconds <= 7 * 86400:
            raise ValueError("must be off or between 1m and 7d (e.g. 30m)")
        return value.strip().lower()

    @property
    def admins(self) -> tuple[str, ...]:
        """Slack user and user-group ids that may do anything to any incident."""
        return tuple(_split_list(self.admins_text))

    @property
    def takeover_after(self) -> timedelta | None:
        """How long a commander may be silent before anyone may take over (None: never)."""
        if self.takeover_after_text == "off":
            return None
        return timedelta(seconds=parse_duration(self.takeover_after_text))

    @field_validator("pagerduty_from_email")
    @classmethod
    def _an_email(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None and ("@" not in value or any(c.isspace() for c in value)):
            raise ValueError(f"{value!r} is not an e-mail address (the login of a PagerDuty user)")
        return value

    @model_validator(mode="after")
    def _from_with_rest(self) -> Settings:
        # PagerDuty's REST API refuses POST /incidents, PUT /incidents/{id} and
        # POST /incidents/{id}/notes without a From header naming one of its users.
        if self.pagerduty_api_token and not self.pagerduty_from_email:
            raise ValueError(
                "PAGERDUTY_FROM_EMAIL must be set with PAGERDUTY_API_TOKEN: PagerDuty requires a From header "
                "(the e-mail of a PagerDuty user) to acknowledge, resolve, annotate or open incidents"
            )
        return self

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _checked_url(value: str, *, schemes: tuple[str, ...]) -> str:
    """An absolute URL with one of ``schemes``, a host and (if given) a numeric port."""
    expected = " or ".join(f"{scheme}://" for scheme in schemes)
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in schemes:
        got = f"{parts.scheme}://" if parts.scheme else "no scheme"
        raise ValueError(f"must start with {expected} (got {got})")
    if not parts.hostname:
        raise ValueError(f"must name a host, like {schemes[0]}://example.com/")
    try:
        parts.port  # noqa: B018 (raises for a port that is not a number or out of range)
    except ValueError:
        raise ValueError("the port must be a number from 1 to 65535") from None
    return value.strip()


_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,63}")
#: Words that mark a secret as copied from an example rather than made.
#: Words examples use for a secret (ours among them: ``prod:TOKEN1,staging:TOKEN2``).
#: Also a value cut short in a page (``3f9c2b7e…``, ``3f9c...``) or written as ``<the token>``.
_PLACEHOLDER = re.compile(
    r"change[-_ ]?me|example|placeholder|random[-_ ]?string|your[-_ ]?(?:token|secret)|^x{4,}$|^(?:token|secret|password)[-_]?\d*$"
    r"|…|\.\.\.|^<.*>$",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Secrets travel in HTTP headers and signatures: printable ASCII, no spaces.
_PRINTABLE_ASCII = re.compile(r"[!-~]+")
NOT_ASCII = "must be printable ASCII without spaces: senders put it in an HTTP header (make one with openssl rand -hex 24)"
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOST = re.compile(r"[A-Za-z0-9._:\-\[\]%]+")
_CHANNEL = re.compile(r"#[a-z0-9][a-z0-9_\-]{0,79}|[CGD][A-Z0-9]{6,}")
_REACTION = re.compile(r"[a-z0-9_+'\-]+")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_FIELD_IN_SOURCE_ERROR = re.compile(r'field "([^"]+)"')


def _json(text: str, shape: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON ({error.msg} at character {error.pos}); expected {shape}") from None


def _pairs(text: str, shape: str) -> Any:
    """A JSON object, or ``key=value,key=value`` (easier to write in a shell or a Procfile)."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return _json(stripped, shape)
    pairs: dict[str, str] = {}
    for part in filter(None, (piece.strip() for piece in stripped.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{part!r} is not key=value; expected {shape} or key=value,key=value")
        pairs[key.strip()] = value.strip()
    return pairs


def _variable(field: str) -> str:
    info = Settings.model_fields.get(field)
    return (info.alias if info is not None and info.alias else field).upper()


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning pydantic's error list into one readable message.

    Every error names the environment variable, whatever went wrong: a value pydantic
    rejected, or one a settings source could not even decode (JSON for complex types).
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name, *inner = [str(part) for part in error["loc"]] or ["configuration"]
            message = error["msg"]
            if error["type"] == "json_invalid":
                message = "is not valid JSON"
            elif inner:  # one item of a list or mapping: show which
                message = f"{error['input']!r}: {message}"
            lines.append(f"  {name}: {message}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
    except SourceError as exc:
        found = _FIELD_IN_SOURCE_ERROR.search(str(exc))
        name = _variable(found.group(1)) if found else "a setting"
        raise SettingsError(f"invalid configuration:\n  {name}: could not be read ({exc.__cause__ or exc})") from None
    except OSError as exc:  # .env unreadable (a folder, no permission)
        raise SettingsError(f"invalid configuration: cannot read the settings file: {exc}") from None
