"""Error answers every endpoint shares: JSON that says what is wrong."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


def json_error(status: int, message: str, **details: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if details:
        body["details"] = details
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body, status_code=status, headers=headers)
