"""The review server: queue list, parcel page, decision API and the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from infer.review import pages
from infer.review.bodies import DecisionBody
from infer.review.case_api import add_case_routes
from infer.review.case_views import case_of
from infer.review.monitor import band_check
from infer.review.queue import AlreadyDecided, QueueError, ReviewQueue
from infer.review.references import nearest
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


class DecisionIn(DecisionBody):
    brand_source: Literal["model", "chosen"] | None = None


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

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException):
        # The API answers JSON; a person who followed a stale link gets a page with a way back.
        if request.url.path.startswith(("/api/", "/photos/", "/heatmaps/", "/references/")):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        return HTMLResponse(pages.error_page(exc.status_code, str(exc.detail)), status_code=exc.status_code)

    @app.middleware("http")
    async def protect(request: Request, call_next):
        refusal = guard(request, token, loopback)
        response = refusal if refusal is not None else await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    add_pages(app, queue)
    add_api(app, queue)
    add_case_routes(app, queue)
    return app


def sorted_rows(queue: ReviewQueue, status: str, sort: str, order: str, filters: dict) -> list[dict]:
    if sort not in ("probability", "age", "brand"):
        raise HTTPException(422, f"sort must be probability, age or brand, got {sort!r}")
    if status not in ("queued", "decided", "all"):
        raise HTTPException(422, f"status must be queued, decided or all, got {status!r}")
    return queue.parcels(None if status == "all" else status, sort, order != "asc", filters)


def add_pages(app: FastAPI, queue: ReviewQueue) -> None:
    """The pages a person opens, and the images and script they load."""

    @app.get("/", response_class=HTMLResponse)
    def queue_list(status: str = "queued", sort: str = "probability", order: str = "desc",
                   brand: str = "", reason: str = "", model_version: str = "", search: str = ""):
        filters = {"brand": brand, "reason": reason, "model_version": model_version, "search": search}
        rows = sorted_rows(queue, status, sort, order, filters)
        return pages.queue_page(rows, sort, order != "asc", status, band_check(queue), filters, queue.facets())

    @app.get("/parcels/{row}", response_class=HTMLResponse)
    def parcel_page(row: int):
        parcel = _parcel_or_404(queue, row)
        ids = [r["id"] for r in queue.parcels(None, "age", False)]
        waiting = [r["id"] for r in queue.parcels("queued") if r["id"] != row]
        at = ids.index(row)
        near = {"next": waiting[0] if waiting else None, "j": ids[at + 1] if at + 1 < len(ids) else None,
                "k": ids[at - 1] if at > 0 else None}
        refs = {ph["id"]: nearest(queue, ph["id"]) for ph in parcel["photos"] if ph["has_photo"]}
        return pages.parcel_page(parcel, near, refs, case_of(queue, row))

    @app.get("/p/{parcel_id}")
    def by_parcel_id(parcel_id: str):
        row = queue.row_of(parcel_id)
        if row is None:
            raise HTTPException(404, f"no parcel {parcel_id!r} in this queue")
        return Response(status_code=303, headers={"Location": f"/parcels/{row}"})

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

    @app.get("/references/{reference_id}")
    def reference(reference_id: int):
        return _jpeg(queue.reference_jpeg(reference_id), f"reference {reference_id}")


def add_api(app: FastAPI, queue: ReviewQueue) -> None:
    """The JSON API beside the pages."""

    @app.get("/api/queue")
    def api_queue(status: str = Query("queued"), sort: str = "probability", order: str = "desc",
                  brand: str = "", reason: str = "", model_version: str = "", search: str = ""):
        filters = {"brand": brand, "reason": reason, "model_version": model_version, "search": search}
        return [pages.blind_row(r) for r in sorted_rows(queue, status, sort, order, filters)]

    @app.get("/api/parcels/{row}")
    def api_parcel(row: int):
        parcel = pages.blind(_parcel_or_404(queue, row))
        for ph in parcel["photos"]:
            ph["photo_url"] = f"/photos/{ph['id']}" if ph["has_photo"] else None
            ph["heatmap_url"] = f"/heatmaps/{ph['id']}" if ph["has_heatmap"] else None
        return parcel

    @app.post("/api/parcels/{row}/decision")
    def api_decide(row: int, body: DecisionIn):
        try:
            return queue.decide(row, body.decision, body.reviewer, body.brand, body.note,
                                body.override, body.brand_source)
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


def _parcel_or_404(queue: ReviewQueue, row: int) -> dict:
    parcel = queue.parcel(row)
    if parcel is None:
        raise HTTPException(404, f"no parcel with id {row}")
    return parcel


def _jpeg(data: bytes | None, what: str) -> Response:
    if data is None:
        raise HTTPException(404, f"no {what}")
    return Response(data, media_type="image/jpeg")
