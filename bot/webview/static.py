"""``/static/…``: the stylesheet, the one script and the icon, served by us (no CDN), read once
at start. ``/favicon.ico`` answers with the same icon, for browsers that ask for it anyway."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.webview.security import secure

STATIC = Path(__file__).parent / "static"
MEDIA = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def load() -> dict[str, tuple[bytes, str, str]]:
    """name → (body, media type, ETag) for every servable file."""
    files = {}
    for path in sorted(STATIC.iterdir()):
        if path.suffix in MEDIA:
            body = path.read_bytes()
            files[path.name] = (body, MEDIA[path.suffix], '"' + hashlib.sha256(body).hexdigest()[:16] + '"')
    return files


def routes() -> list[Route]:
    files = load()

    async def asset(request: Request) -> Response:
        found = files.get(request.path_params["name"])
        if found is None:
            return secure(Response("not found\n", status_code=404, media_type="text/plain"))
        body, media, etag = found
        if request.headers.get("if-none-match") == etag:
            return secure(Response(status_code=304, headers={"ETag": etag}), cache=True)
        response = Response(body, media_type=media, headers={"ETag": etag, "Cache-Control": "no-cache"})
        return secure(response, cache=True)

    async def favicon(request: Request) -> Response:
        body, media, etag = files["favicon.svg"]
        return secure(Response(body, media_type=media, headers={"ETag": etag, "Cache-Control": "max-age=86400"}), cache=True)

    return [Route("/static/{name}", asset, methods=["GET"]), Route("/favicon.ico", favicon, methods=["GET"])]
