"""Rendering the post-mortem document: Jinja2 templates for markdown, ``json`` for JSON.

Templates ship in ``bot/export/templates``; a folder named by ``FIREBREAK_TEMPLATES_DIR``
is searched first, so a team can override ``postmortem.md.j2`` (or only one of the
partials it includes) without forking. Undefined names fail loudly (StrictUndefined) so a
typo in an override is an error, not a silently empty section.

Markdown has no autoescape in Jinja, so we give it one: every ``{{ … }}`` in a markdown
template is passed through :func:`md_inline` unless a filter (``md``, ``md_block``,
``md_link``) already made it safe. HTML templates (``*.html.j2``) get Jinja's own
autoescape instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    pass_eval_context,
    select_autoescape,
)
from jinja2.nodes import EvalContext
from markupsafe import Markup

from bot.domain.children_text import entry_wording, how_joined
from bot.export.escape import md_block, md_inline, md_link
from bot.export.timings import format_duration
from bot.export.wording import kind_label

MARKDOWN_TEMPLATE = "postmortem.md.j2"
HTML_EXTENSIONS = ("html", "htm", "xml", "html.j2", "htm.j2", "xml.j2")


class TemplateFolderMissing(ValueError):
    """FIREBREAK_TEMPLATES_DIR names something that is not a folder."""


@pass_eval_context
def _finalize(eval_ctx: EvalContext, value: Any) -> Any:
    if eval_ctx.autoescape:
        return "" if value is None else value
    if value is None:
        return "—"
    if isinstance(value, Markup):
        return value
    return md_inline(value)


def make_environment(templates_dir: Path | None = None, *, zone: ZoneInfo | None = None) -> Environment:
    loaders: list[Any] = []
    if templates_dir is not None:
        if not Path(templates_dir).is_dir():
            raise TemplateFolderMissing(f"FIREBREAK_TEMPLATES_DIR={templates_dir} is not a folder")
        loaders.append(FileSystemLoader(str(templates_dir)))
    loaders.append(PackageLoader("bot.export", "templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=HTML_EXTENSIONS, default_for_string=False, default=False),
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    tz = zone or ZoneInfo("UTC")

    def local(value: str | datetime | None) -> datetime | None:
        if value is None or value == "":
            return None
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        try:
            return moment.astimezone(tz)
        except OverflowError:  # stored before such times were refused at the door: shown as sent
            return moment

    def when(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str | None:
        moment = local(value)
        return moment.strftime(fmt) if moment else None

    env.filters.update(
        md=lambda value: Markup(md_inline(value)),
        md_block=lambda value: Markup(md_block(value)),
        md_link=lambda label, url: Markup(md_link(label, url)),
        when=when,
        duration=format_duration,
        kind_label=kind_label,
        joined=how_joined,
        entry_text=_entry_text,
    )
    env.globals["zone_name"] = str(tz)
    return env


def _entry_text(entry: dict[str, Any]) -> str:
    """A timeline entry's words: its text, or for alert groups joining, splitting off and
    merging the wording built from its data (what the chat posts say too)."""
    return entry_wording(str(entry.get("kind") or ""), entry.get("data") or {}) or str(entry.get("text") or "")


class Renderer:
    """Renders a post-mortem document as markdown or JSON with one configured environment."""

    def __init__(self, templates_dir: Path | None = None, *, zone: ZoneInfo | None = None) -> None:
        self.zone = zone or ZoneInfo("UTC")
        self.env = make_environment(templates_dir, zone=self.zone)

    def markdown(self, document: dict[str, Any]) -> str:
        return self.env.get_template(MARKDOWN_TEMPLATE).render(doc=document)

    @staticmethod
    def json(document: dict[str, Any]) -> str:
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
