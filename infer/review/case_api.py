"""The case pages and API of the review server. They sit behind the same guard as the parcel
pages (token, loopback Host, same-origin JSON writes of bounded size: `security.guard`), and
their bodies are as strict: booleans are booleans, unknown fields are refused."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from infer.review import case_pages
from infer.review.bodies import DecisionBody
from infer.review.case_store import CaseConflict, decide_case, split_member
from infer.review.case_views import CASE_STATUSES, case_detail, list_cases
from infer.review.queue import QueueError, ReviewQueue

# A case's decision is a parcel's without the brand's source: a case has no model brand to accept.
CaseDecisionIn = DecisionBody


class SplitIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    parcel_id: str = Field(min_length=1, max_length=200)
    reviewer: str = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=5000)


def add_case_routes(app: FastAPI, queue: ReviewQueue) -> None:
    @app.get("/cases", response_class=HTMLResponse)
    def cases(status: str = "open"):
        return case_pages.cases_page(_listed(queue, status), status)

    @app.get("/cases.js")
    def script():
        return Response(case_pages.SCRIPT, media_type="text/javascript")

    @app.get("/cases/{case_id}", response_class=HTMLResponse)
    def case(case_id: str):
        return case_pages.case_page(_case_or_404(queue, case_id))

    @app.get("/api/cases")
    def api_cases(status: str = "open"):
        return _listed(queue, status)

    @app.get("/api/cases/{case_id}")
    def api_case(case_id: str):
        return _case_or_404(queue, case_id)

    @app.post("/api/cases/{case_id}/decision")
    def api_decide(case_id: str, body: CaseDecisionIn):
        try:
            return decide_case(queue, case_id, body.decision, body.reviewer, body.brand, body.note,
                               body.override)
        except KeyError:
            raise HTTPException(404, f"no case {case_id!r}") from None
        except CaseConflict as exc:
            return JSONResponse({"detail": str(exc), "previous": exc.previous}, status_code=409)
        except QueueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/api/cases/{case_id}/split")
    def api_split(case_id: str, body: SplitIn):
        try:
            split = split_member(queue, case_id, body.parcel_id, body.reviewer, body.note)
        except KeyError:
            raise HTTPException(404, f"no case {case_id!r}") from None
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None
        except CaseConflict as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)
        except QueueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"split": split, "case": _case_or_404(queue, case_id)}


def _listed(queue: ReviewQueue, status: str) -> list[dict]:
    if status not in CASE_STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(CASE_STATUSES)}, got {status!r}")
    return list_cases(queue, status)


def _case_or_404(queue: ReviewQueue, case_id: str) -> dict:
    case = case_detail(queue, case_id)
    if case is None:
        raise HTTPException(404, f"no case {case_id!r} (cases are rebuilt by python -m infer.cases "
                                 "build --db; an open case's id changes when its members do)")
    return case
