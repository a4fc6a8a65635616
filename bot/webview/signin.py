"""``/signin`` and ``/signout``: the token sign-in and the way out, both CSRF-safe.

A form is accepted only with the CSRF token of the browser's signed session cookie (which a
page on another site cannot read) and, when the browser sends one, an ``Origin`` of this
site. The cookie is ``HttpOnly`` and ``SameSite=Lax`` on top.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs, urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.webview import auth
from bot.webview.context import WebContext
from bot.webview.security import secure
from bot.webview.sessions import Session

#: Largest sign-in or sign-out form read.
MAX_FORM_BYTES = 8 * 1024
MAX_NAME = 60


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``//evil.example`` and ``https://…`` become ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


async def read_form(request: Request) -> dict[str, str] | None:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return None
    try:
        body = await request.body()
    except ClientDisconnect:  # gone (or cut off by the body timeout) before the form arrived
        return None
    if len(body) > MAX_FORM_BYTES:
        return None
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    return {key: values[0] for key, values in parsed.items()}


def same_origin(request: Request, context: WebContext) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers and curl; the CSRF token still has to match
    expected = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    if context.public_url:
        parts = urlsplit(context.public_url)
        expected.add(f"{parts.scheme}://{parts.netloc}")
    return origin in expected


def csrf_ok(request: Request, context: WebContext, form: dict[str, str] | None) -> Session | None:
    """The browser's session when the form carries its CSRF token from this site; else None."""
    session = auth.session_of(request, context.auth)
    if session is None or form is None or not same_origin(request, context):
        return None
    given = form.get("csrf", "")
    return session if hmac.compare_digest(given.encode(), session.csrf.encode()) else None


def routes(context: WebContext) -> list[Route]:
    async def signin_page(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        if await context.signed_in(request) is not None:
            return secure(RedirectResponse(next_path, status_code=303))
        if not context.auth.enabled:
            return context.render(request, "closed.html", status=403)
        return context.render(request, "signin.html", next_path=next_path, error=None, proxy_only=not context.auth.token)

    async def signin(request: Request) -> Response:
        wait = context.signin_limiter.attempt(auth.client_address(request, context.auth))
        if wait is not None:
            return secure(
                Response(
                    f"too many sign-in attempts from your address: try again in {wait} s\n",
                    status_code=429,
                    media_type="text/plain; charset=utf-8",
                    headers={"Retry-After": str(wait)},
                )
            )
        form = await read_form(request)
        session = csrf_ok(request, context, form)
        if session is None or form is None:
            return context.render(request, "signin.html", status=403, next_path="/", error="The form expired; please try again.", proxy_only=not context.auth.token)
        next_path = safe_next(form.get("next"))
        if not context.auth.token_matches(form.get("token", "")):
            return context.render(request, "signin.html", status=401, next_path=next_path, error="That token is not right.", proxy_only=False)
        name = " ".join(form.get("name", "").split())[:MAX_NAME] or "signed in with the token"
        response = secure(RedirectResponse(next_path, status_code=303))
        context.set_session(response, session.signed_in(name, context.auth.fingerprint))
        return response

    async def signout(request: Request) -> Response:
        form = await read_form(request)
        if csrf_ok(request, context, form) is None:
            return secure(Response("the sign-out form expired: reload the page and try again\n", status_code=403, media_type="text/plain"))
        signed_out = auth.session_of(request, context.auth)
        if signed_out is not None and signed_out.user:
            await context.sign_out(signed_out)
        response = secure(RedirectResponse("/signin?signed_out=1", status_code=303))
        context.set_session(response, Session.anonymous())
        return response

    return [
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
    ]
