"""The HTML pages. Each route declares who may see it (the `viewer` dependency) and takes the same filters
as its API twin; every page works without JavaScript."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from receiver.web import growth
from receiver.web.data import alerts as alert_data
from receiver.web.data.clinics import clinic_list
from receiver.web.data.devices import device_list, get_device, telemetry_history
from receiver.web.data.exams import exam_list, get_exam, pregnancy_exams
from receiver.web.data.overview import overview
from receiver.web.deps import Viewer, csrf_form, get_db, viewer
from receiver.web.filters import ID_PATTERN, Filters, filters, overview_filters
from receiver.web.render import page

router = APIRouter(include_in_schema=False)
ExamId = Annotated[str, Path(max_length=36)]
DeviceKey = Annotated[str, Path(max_length=64, pattern=ID_PATTERN)]
NOT_FOUND = "No such exam, or not one of your clinics'."


@router.get("/")
def overview_page(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(overview_filters),
                  db: Session = Depends(get_db)) -> Response:
    s = request.app.state.settings
    return page(request, "overview.html", o=overview(db, v.clinics, f, s.stale_days, s.page_size), f=f)


@router.get("/alerts")
def alerts_page(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
                state: Annotated[str, Query(pattern="^(open|acknowledged|all)$")] = "open",
                severity: Annotated[str | None, Query(pattern="^(refer|review|info)$")] = None,
                db: Session = Depends(get_db)) -> Response:
    q = alert_data.alert_queue(db, v.clinics, f, state, severity, request.app.state.settings.page_size)
    return page(request, "alerts.html", alerts=q, f=f, state=state, severity=severity)


@router.post("/alerts/{alert_id}/ack")
def acknowledge(request: Request, alert_id: Annotated[int, Path(ge=1, le=2**62)], v: Viewer = Depends(viewer),
                form: dict[str, str] = Depends(csrf_form), db: Session = Depends(get_db)) -> Response:
    try:
        alert = alert_data.acknowledge(db, alert_id, v.clinics, v.name, form.get("note", ""))
    except alert_data.AckRefused as exc:
        raise HTTPException(exc.status, str(exc)) from None
    back = form.get("back", "")
    target = back if back.startswith("/") and not back.startswith("//") else f"/exams/{alert.result_id}"
    return RedirectResponse(target, status_code=303)


@router.get("/exams")
def exams_page(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
               flagged: bool = False, db: Session = Depends(get_db)) -> Response:
    rows = exam_list(db, v.clinics, f, request.app.state.settings.page_size, flagged)
    return page(request, "exams.html", exams=rows, f=f, flagged=flagged)


@router.get("/exams/{result_id}")
def exam_page(request: Request, result_id: ExamId, v: Viewer = Depends(viewer),
              db: Session = Depends(get_db)) -> Response:
    exam = get_exam(db, result_id, v.clinics)
    if exam is None:
        raise HTTPException(404, NOT_FOUND)
    s = request.app.state.settings
    series = pregnancy_exams(db, exam, v.clinics) if s.accept_patient_ref else [exam.row]
    return page(request, "exam.html", exam=exam, charts=growth.charts(series, exam.row.result_id),
                show_patient_ref=s.accept_patient_ref)


@router.get("/devices")
def devices_page(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
                 stale: bool = False, db: Session = Depends(get_db)) -> Response:
    s = request.app.state.settings
    rows = device_list(db, v.clinics, f, s.page_size, s.stale_days if stale else None)
    return page(request, "devices.html", devices=rows, f=f, stale=stale, stale_days=s.stale_days,
                done=request.query_params.get("done", "")[:200])


@router.get("/devices/{clinic_id}/{device_id}")
def device_page(request: Request, clinic_id: DeviceKey, device_id: DeviceKey, v: Viewer = Depends(viewer),
                db: Session = Depends(get_db)) -> Response:
    device = get_device(db, clinic_id, device_id, v.clinics)
    if device is None:
        raise HTTPException(404, "No such device, or not one of your clinics'.")
    return page(request, "device.html", d=device, history=telemetry_history(db, clinic_id, device_id),
                stale_days=request.app.state.settings.stale_days)


@router.get("/clinics")
def clinics_page(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
                 db: Session = Depends(get_db)) -> Response:
    return page(request, "clinics.html", clinics=clinic_list(db, v.clinics, f, request.app.state.settings.page_size),
                f=f)


@router.get("/api")
def api_page(request: Request, v: Viewer = Depends(viewer)) -> Response:
    """The API's endpoints and parameters, read from its OpenAPI document (no JavaScript viewer)."""
    spec = request.app.openapi()
    ops = [(path, method.upper(), op.get("summary", ""), op.get("description", ""),
            [p["name"] for p in op.get("parameters", [])])
           for path, methods in spec["paths"].items() for method, op in methods.items()]
    return page(request, "api.html", ops=ops)
