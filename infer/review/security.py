"""Who may talk to the review server, and which writes it accepts.

The page changes evidence used in customs cases, so: loopback only unless a token is set;
a token has at least `MIN_TOKEN` characters (or is generated); with a token every request
carries it (Bearer header, or the cookie the first `?token=` page load sets, which holds a value
derived from the token, never the token); writes must be same-origin JSON of at most
`MAX_BODY` bytes, which a cross-site form or image tag cannot send; and on loopback the Host
header must be a loopback name, which stops DNS-rebinding pages.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

COOKIE = "review_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MIN_TOKEN = 16
MAX_BODY = 64 * 1024  # a decision with a 5,000-character note is under 6 KB


def new_token() -> str:
    return secrets.token_urlsafe(24)


def check_token(token: str | None) -> None:
    if token is not None and len(token) < MIN_TOKEN:
        raise ValueError(f"--token must be at least {MIN_TOKEN} characters (got {len(token)}); "
                         "or pass --token auto to have one generated and printed")


def cookie_value(token: str) -> str:
    """What the browser keeps: a stolen cookie file does not give away the token itself."""
    return hmac.new(token.encode(), b"review-queue cookie", hashlib.sha256).hexdigest()


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    check_token(token)
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
    if token and not _authorised(request, token):
        return _deny(401, "missing or wrong token (Authorization: Bearer ..., or open a page "
                          "with ?token=...)")
    if token and request.method == "GET" and "token" in request.query_params:
        # Move the token from the URL (history, logs, Referer) into a cookie.
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="strict", path="/")
        return response
    if request.method in UNSAFE_METHODS:
        refusal = _body_refusal(request)
        if refusal is not None:
            return refusal
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


def _body_refusal(request: Request) -> Response | None:
    """Writes declare their length and keep it small: the body is never read to find out."""
    length = request.headers.get("content-length")
    if length is None:
        return _deny(411, "writes must carry Content-Length")
    if not length.isdigit() or int(length) > MAX_BODY:
        return _deny(413, f"request body over {MAX_BODY} bytes (Content-Length: {length[:20]})")
    return None


def _authorised(request: Request, token: str) -> bool:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    elif request.method == "GET" and "token" in request.query_params:
        given = request.query_params["token"]
    else:
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), cookie_value(token).encode())
    return hmac.compare_digest(given.encode(), token.encode())
