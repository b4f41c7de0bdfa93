"""The JSON API (OpenAPI at /openapi.json, listed as a page at /api): the same data as the pages, paginated,
for the same viewer scope; plus /fhir/Bundle/{id} (an exam as a FHIR R4 Bundle) and /health.
Authenticate with the session cookie or HTTP Basic (same users, same slowdown after failed logins)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from edge.sync.fhir import to_fhir_bundle
from receiver.health import health_report, http_status
from receiver.web.data import alerts as alert_data
from receiver.web.data.clinics import clinic_list
from receiver.web.data.devices import device_list, get_device
from receiver.web.data.exams import alert_json, exam_list, get_exam
from receiver.web.data.overview import overview
from receiver.web.deps import Viewer, get_db, viewer
from receiver.web.filters import Filters, filters, overview_filters
from receiver.web.pages import NOT_FOUND, DeviceKey, ExamId

router = APIRouter(tags=["dashboard"])
PerPage = Annotated[int | None, Query(ge=1, le=500)]
FHIR_JSON = "application/fhir+json"


def _per_page(request: Request, per_page: int | None) -> int:
    return per_page or request.app.state.settings.page_size


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


@router.get("/api/v1/overview")
def api_overview(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(overview_filters),
                 per_page: PerPage = None, db: Session = Depends(get_db)) -> dict[str, Any]:
    """Exams per week per clinic, shares with a measurement and flagged, open alerts, stale devices."""
    return overview(db, v.clinics, f, request.app.state.settings.stale_days, _per_page(request, per_page)).to_json()


@router.get("/api/v1/exams")
def api_exams(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters), flagged: bool = False,
              per_page: PerPage = None, db: Session = Depends(get_db)) -> dict[str, Any]:
    """Exams newest first (typed columns; the full record is /api/v1/exams/{id})."""
    page = exam_list(db, v.clinics, f, _per_page(request, per_page), flagged)
    return page.to_json([_iso(r) for r in page.items])


@router.get("/api/v1/exams/{result_id}")
def api_exam(request: Request, result_id: ExamId, v: Viewer = Depends(viewer),
             db: Session = Depends(get_db)) -> dict[str, Any]:
    """One exam: the payload as received, its alerts and its review history."""
    exam = get_exam(db, result_id, v.clinics)
    if exam is None:
        raise HTTPException(404, NOT_FOUND)
    return exam.to_json(request.app.state.settings.accept_patient_ref)


@router.get("/api/v1/alerts")
def api_alerts(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
               state: Annotated[str, Query(pattern="^(open|acknowledged|all)$")] = "open",
               severity: Annotated[str | None, Query(pattern="^(refer|review|info)$")] = None,
               per_page: PerPage = None, db: Session = Depends(get_db)) -> dict[str, Any]:
    """The alert queue, newest exam first."""
    page = alert_data.alert_queue(db, v.clinics, f, state, severity, _per_page(request, per_page))
    return page.to_json([alert_json(a) for a in page.items])


@router.get("/api/v1/devices")
def api_devices(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
                stale: bool = False, per_page: PerPage = None, db: Session = Depends(get_db)) -> dict[str, Any]:
    """Devices with telemetry, sync lag and weekly drift."""
    s = request.app.state.settings
    page = device_list(db, v.clinics, f, _per_page(request, per_page), s.stale_days if stale else None)
    return page.to_json([d.to_json() for d in page.items])


@router.get("/api/v1/devices/{clinic_id}/{device_id}")
def api_device(clinic_id: DeviceKey, device_id: DeviceKey, v: Viewer = Depends(viewer),
               db: Session = Depends(get_db)) -> dict[str, Any]:
    device = get_device(db, clinic_id, device_id, v.clinics)
    if device is None:
        raise HTTPException(404, "No such device, or not one of your clinics'.")
    return device.to_json()


@router.get("/api/v1/clinics")
def api_clinics(request: Request, v: Viewer = Depends(viewer), f: Filters = Depends(filters),
                per_page: PerPage = None, db: Session = Depends(get_db)) -> dict[str, Any]:
    """Clinics with their devices and exam counts."""
    page = clinic_list(db, v.clinics, f, _per_page(request, per_page))
    return page.to_json([c.to_json() for c in page.items])


@router.get("/fhir/Bundle/{result_id}", response_class=JSONResponse)
def fhir_bundle(request: Request, result_id: ExamId, download: bool = False, v: Viewer = Depends(viewer),
                db: Session = Depends(get_db)) -> JSONResponse:
    """The exam as a FHIR R4 Bundle (collection) of Observations (edge.sync.fhir)."""
    exam = get_exam(db, result_id, v.clinics)
    if exam is None:
        raise HTTPException(404, NOT_FOUND)
    payload = dict(exam.payload)
    if not request.app.state.settings.accept_patient_ref:
        payload.pop("patient_ref", None)
    headers = {"Content-Disposition": f'attachment; filename="exam-{exam.result_id}.fhir.json"'} if download else {}
    return JSONResponse(to_fhir_bundle(payload), media_type=FHIR_JSON, headers=headers)


@router.get("/health")
def health(request: Request) -> JSONResponse:
    """The central side's health (database, every receiver's heartbeat); 503 when down. No login, no
    clinical data."""
    report = health_report(request.app.state.engine)
    return JSONResponse(report, status_code=http_status(report))
