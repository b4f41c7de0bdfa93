"""Admin pages: users (add, disable, enable, remove) and device registration. Only the admin role."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from edge.errors import InputError
from receiver import users
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
