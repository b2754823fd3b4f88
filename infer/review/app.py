"""The review server: queue list, parcel page, decision API and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from infer.review import pages
from infer.review.monitor import band_check
from infer.review.queue import AlreadyDecided, QueueError, ReviewQueue
from infer.review.security import check_bind, guard, is_loopback

HEADERS = {
    # Inline script is not needed (the script is /review.js), so forbid it: a parcel id or note
    # that slipped past escaping still cannot run.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",  # keyboard shortcuts must not be clickjacked from a frame
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class DecisionIn(BaseModel):
    # Booleans are booleans and strings strings: "override": "yes" is refused, not read as true.
    model_config = ConfigDict(strict=True, extra="forbid")

    decision: Literal["counterfeit", "genuine", "cannot_tell"]
    reviewer: str = Field(min_length=1, max_length=200)
    brand: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=5000)
    override: bool = False


def create_app(db: str | Path, token: str | None = None, host: str = "127.0.0.1") -> FastAPI:
    check_bind(host, token)
    queue = ReviewQueue(db)
    loopback = is_loopback(host)
    app = FastAPI(title="Review queue", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.queue = queue

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        # Say what is wrong without echoing what was sent.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.middleware("http")
    async def protect(request: Request, call_next):
        refusal = guard(request, token, loopback)
        response = refusal if refusal is not None else await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def sorted_rows(status: str, sort: str, order: str) -> list[dict]:
        if sort not in ("probability", "age", "brand"):
            raise HTTPException(422, f"sort must be probability, age or brand, got {sort!r}")
        if status not in ("queued", "decided", "all"):
            raise HTTPException(422, f"status must be queued, decided or all, got {status!r}")
        return queue.parcels(None if status == "all" else status, sort, order != "asc")

    @app.get("/", response_class=HTMLResponse)
    def queue_list(status: str = "queued", sort: str = "probability", order: str = "desc"):
        rows = sorted_rows(status, sort, order)
        return pages.queue_page(rows, sort, order != "asc", status, band_check(queue))

    @app.get("/parcels/{row}", response_class=HTMLResponse)
    def parcel_page(row: int):
        parcel = _parcel_or_404(queue, row)
        waiting = [r["id"] for r in queue.parcels("queued") if r["id"] != row]
        return pages.parcel_page(parcel, waiting[0] if waiting else None)

    @app.get("/review.js")
    def script():
        return Response(pages.SCRIPT, media_type="text/javascript")

    # Images by integer id only: a path never reaches the filesystem, there is none to reach.
    @app.get("/photos/{photo_id}")
    def photo(photo_id: int):
        return _jpeg(queue.image(photo_id, "photo"), f"photo {photo_id}")

    @app.get("/heatmaps/{photo_id}")
    def heatmap(photo_id: int):
        return _jpeg(queue.image(photo_id, "heatmap"), f"heatmap {photo_id}")

    @app.get("/api/queue")
    def api_queue(status: str = Query("queued"), sort: str = "probability", order: str = "desc"):
        return sorted_rows(status, sort, order)

    @app.get("/api/parcels/{row}")
    def api_parcel(row: int):
        parcel = _parcel_or_404(queue, row)
        for ph in parcel["photos"]:
            ph["photo_url"] = f"/photos/{ph['id']}" if ph["has_photo"] else None
            ph["heatmap_url"] = f"/heatmaps/{ph['id']}" if ph["has_heatmap"] else None
        return parcel

    @app.post("/api/parcels/{row}/decision")
    def api_decide(row: int, body: DecisionIn):
        try:
            return queue.decide(row, body.decision, body.reviewer, body.brand, body.note,
                                body.override)
        except KeyError:
            raise HTTPException(404, f"no parcel with id {row}") from None
        except AlreadyDecided as exc:
            return JSONResponse({"detail": str(exc), "previous": exc.previous}, status_code=409)
        except QueueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.get("/api/audit")
    def api_audit():
        return queue.audit()

    @app.get("/api/band-check")
    def api_band_check(target_error: float = 0.02, delta: float = 0.1):
        try:
            return band_check(queue, target_error, delta)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    return app


def _parcel_or_404(queue: ReviewQueue, row: int) -> dict:
    parcel = queue.parcel(row)
    if parcel is None:
        raise HTTPException(404, f"no parcel with id {row}")
    return parcel


def _jpeg(data: bytes | None, what: str) -> Response:
    if data is None:
        raise HTTPException(404, f"no {what}")
    return Response(data, media_type="image/jpeg")
