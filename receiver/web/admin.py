"""Admin pages: users (add, disable, enable, remove) and device registration (what `fetal-receiver
add-device` does, held results of the device stored with the same checks as live traffic). Only the admin role."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from edge.errors import InputError
from edge.sync.checks import ID_RE
from receiver import users
from receiver.models import NAME_MAX
from receiver.web.deps import Viewer, csrf_form, get_db, require_role
from receiver.web.render import page

router = APIRouter(prefix="/admin", include_in_schema=False)
admin = require_role("admin")


@router.get("/users")
def users_page(request: Request, v: Viewer = Depends(admin), db: Session = Depends(get_db)) -> Response:
    return page(request, "users.html", users=users.list_users(db), roles=users.ROLES,
                message=request.query_params.get("done", "")[:200])


@router.post("/users")
def add_user(v: Viewer = Depends(admin), form: dict[str, str] = Depends(csrf_form),
             db: Session = Depends(get_db)) -> Response:
    clinics = [c.strip() for c in form.get("clinics", "").split(",") if c.strip()]
    try:
        users.add_user(db, form.get("name", "").strip(), form.get("password", ""), form.get("role", ""), clinics)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    db.commit()
    return RedirectResponse(f"/admin/users?done=added+{form['name'].strip()}", status_code=303)


@router.post("/users/{name}/{action}")
def change_user(name: str, action: str, v: Viewer = Depends(admin), form: dict[str, str] = Depends(csrf_form),
                db: Session = Depends(get_db)) -> Response:
    if name == v.name and action in ("disable", "remove"):
        raise HTTPException(400, "you cannot disable or remove yourself; ask another admin")
    try:
        if action in ("disable", "enable"):
            users.set_disabled(db, name, action == "disable")
        elif action == "remove":
            users.remove_user(db, name)
        else:
            raise HTTPException(404, f"no action {action[:40]!r}; valid: disable, enable, remove")
    except InputError as exc:
        raise HTTPException(404, str(exc)) from None
    db.commit()
    return RedirectResponse(f"/admin/users?done={action}d+{name}", status_code=303)


@router.post("/devices")
def register_device(request: Request, v: Viewer = Depends(admin), form: dict[str, str] = Depends(csrf_form)) -> Response:
    clinic, device = form.get("clinic", "").strip(), form.get("device", "").strip()
    for what, value in (("clinic", clinic), ("device", device)):
        if not ID_RE.match(value):
            raise HTTPException(400, f"{what} {value[:80]!r}: use 1-64 of A-Z a-z 0-9 _ . - starting with a letter "
                                     "or digit")
    name, district = (form.get(k, "").strip() or None for k in ("clinic_name", "district"))
    if any(x is not None and len(x) > NAME_MAX for x in (name, district)):
        raise HTTPException(400, f"clinic name and district: at most {NAME_MAX} characters")
    stored = _register(request, clinic, device, name, district)
    return RedirectResponse(f"/devices?clinic={clinic}&done=registered+{clinic}/{device}+({stored}+held+stored)",
                            status_code=303)


def _register(request: Request, clinic: str, device: str, name: str | None, district: str | None) -> int:
    """Register through the receiver's own code and store what was held for the device; how many."""
    from receiver.db import Database
    from receiver.intake import Intake, ReceiverSettings

    s = request.app.state.settings
    db = Database(request.app.state.engine.url.render_as_string(hide_password=False), s.pg_schema)
    try:
        db.register_device(clinic, device, name, district)
        replay = Intake(db, ReceiverSettings(tls=False, accept_patient_ref=s.accept_patient_ref))
        replay.replay_held(clinic, device)
        return replay.stats.released - replay.stats.duplicates
    finally:
        db.engine.dispose()
