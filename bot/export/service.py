"""One entry point for every way out (CLI, HTTP, chat): number in, rendered document out."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.domain.clock import Clock, SystemClock
from bot.export.document import build_document
from bot.export.loader import load_record
from bot.export.render import Renderer
from bot.store.db import SessionFactory

#: Export formats and the media type each is served with.
FORMATS: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "json": "application/json",
}


class Exporter:
    def __init__(
        self,
        sessions: SessionFactory,
        *,
        clock: Clock | None = None,
        zone: ZoneInfo | None = None,
        templates_dir: Path | None = None,
        public_url: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()
        self.zone = zone or ZoneInfo("UTC")
        self.renderer = Renderer(templates_dir, zone=self.zone)
        #: FIREBREAK_PUBLIC_URL: when set, the document names the incident's web page.
        self.public_url = public_url

    def document(self, number: int, *, session: Session | None = None) -> dict[str, Any]:
        """Raises ``IncidentNotFound``. Pass ``session`` to read inside a caller's transaction."""
        if session is not None:
            return self.linked(build_document(load_record(session, number), now=self.clock.now(), timezone=str(self.zone)))
        with self.sessions() as own:
            return self.document(number, session=own)

    def linked(self, document: dict[str, Any]) -> dict[str, Any]:
        """Name the incident's web page in ``document`` when FIREBREAK_PUBLIC_URL is set."""
        if self.public_url:
            document["incident"]["web_url"] = f"{self.public_url}/incidents/{document['incident']['number']}"
        return document

    def render(self, number: int, fmt: str, *, session: Session | None = None) -> str:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")
        document = self.document(number, session=session)
        return self.renderer.markdown(document) if fmt == "md" else self.renderer.json(document)

    @staticmethod
    def filename(ref: str, fmt: str) -> str:
        return f"{ref}-postmortem.{fmt}"
