"""Who may talk to the review server, and which writes it accepts.

The page changes evidence used in customs cases, so: loopback only unless a token is set;
with a token every request carries it (Bearer header, or the cookie the first `?token=` page
load sets); writes must be same-origin JSON, which a cross-site form or image tag cannot send;
and on loopback the Host header must be a loopback name, which stops DNS-rebinding pages.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

COOKIE = "review_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise ValueError(
            f"refusing to serve on {host}: a non-loopback address needs --token (every request "
            "must then carry it); or bind 127.0.0.1"
        )


def _deny(status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, status_code=status)


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def guard(request: Request, token: str | None, loopback: bool) -> Response | None:
    """A refusal, or None to let the request through."""
    host = request.headers.get("host", "")
    if loopback and not is_loopback(_host_name(host)):
        return _deny(400, f"host {host!r} not allowed: this server answers loopback names only")
    if token:
        given = _token_of(request)
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            return _deny(401, "missing or wrong token (Authorization: Bearer ..., or open a page "
                              "with ?token=...)")
        if request.method == "GET" and "token" in request.query_params:
            # Move the token from the URL (history, logs, Referer) into a cookie.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
    if request.method in UNSAFE_METHODS:
        site = request.headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return _deny(403, f"cross-site request refused (Sec-Fetch-Site: {site})")
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{host}"
        if origin is not None and origin != own:
            return _deny(403, f"cross-origin request refused (Origin {origin!r}, expected {own!r})")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _deny(415, f"writes must be JSON (Content-Type: application/json), got {kind!r}")
    return None


def _token_of(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if request.method == "GET" and "token" in request.query_params:
        return request.query_params["token"]
    return request.cookies.get(COOKIE)
