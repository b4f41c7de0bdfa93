"""Server-rendered pages: one Jinja2 environment (autoescaping everything), the filters the templates use
to show numbers with their units, and `page()` which fills in what every page needs (user, CSRF token)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import Response

HERE = Path(__file__).resolve().parent
LABELS = {"hc": "Head circumference", "bpd": "Biparietal diameter", "ofd": "Occipito-frontal diameter",
          "ac": "Abdominal circumference", "fl": "Femur length", "ga": "Gestational age by this scan's biometry",
          "efw": "Estimated fetal weight"}
UNITS = {"mm": "mm", "d": "days", "g": "g"}      # UCUM code -> what a reader expects


def ga_text(days: float | None) -> str:
    """Gestational age in days -> '32w 0d' (weeks + days, the way it is read out)."""
    if days is None:
        return "—"
    d = int(round(float(days)))
    return f"{d // 7}w {d % 7}d"


def when(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO time or datetime shown in UTC."""
    if value in (None, ""):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime(fmt)


def num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    return f"{float(value):,.{digits}f}"


def pct(value: Any, digits: int = 0) -> str:
    return "—" if value is None else f"{100.0 * float(value):.{digits}f} %"


def make_templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(ga=ga_text, when=when, num=num, pct=pct)
    env.globals.update(labels=LABELS, units=UNITS)
    return Jinja2Templates(env=env)


def page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    session = getattr(request.state, "session", None)
    context.setdefault("viewer", getattr(request.state, "viewer", None))
    context.setdefault("csrf_token", session.csrf if session else context.get("csrf_token", ""))
    context.setdefault("settings", request.app.state.settings)
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status)
