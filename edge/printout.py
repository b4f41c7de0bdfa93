"""One-page PDF for the mother's hand-held record and the clinic file (`fetal-edge report`).

Clinic, date, GA and EDD, each measurement with its centile, alerts in a midwife's words, the best frame with
the fitted ellipse (kept on the device: printed, never synced), model versions, and "AI-assisted; to be
reviewed by a trained sonographer" until a review accepted or corrected it. fpdf2 (pure Python) with the
PDF core fonts, so the text is Latin-1: anything else is replaced, never a crash.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from edge.errors import InputError

NAMES = {"hc": "Head circumference (HC)", "bpd": "Biparietal diameter (BPD)", "ofd": "Occipito-frontal diam. (OFD)",
         "ac": "Abdominal circumference (AC)", "fl": "Femur length (FL)", "efw": "Estimated fetal weight (EFW)"}
AI_NOTICE = "AI-assisted; to be reviewed by a trained sonographer."
SEVERITY_WORDS = {"refer": "REFER", "review": "CHECK", "info": "NOTE"}


def _fpdf() -> Any:
    try:
        from fpdf import FPDF
    except ImportError:
        raise InputError("the report needs the fpdf2 package: pip install 'fpdf2>=2.7,<3' (pure Python; on "
                         "Python 3.8 pip picks fpdf2 2.8.3, the last release for it)") from None
    return FPDF


def _latin1(text: Any) -> str:
    return str(text).replace("\u2013", "-").replace("\u2014", "-").encode("latin-1", "replace").decode("latin-1")


def _day(iso: str | None) -> str:
    if not iso:
        return "-"
    try:
        return date.fromisoformat(iso[:10]).strftime("%d %b %Y")
    except ValueError:
        return iso


def _ga_line(exam: Mapping[str, Any]) -> tuple[str, str]:
    d = exam.get("dating") or {}
    if not d.get("ga_text"):
        return "Gestational age: not known from this scan", ""
    basis = (exam.get("pregnancy") or {}).get("basis")
    if d.get("source") == "established":
        how = {"lmp": "from the last menstrual period", "edd": "from the expected date of delivery",
               "dating_scan": "from the earlier dating scan"}.get(basis, "established before the scan")
        return f"Gestational age {d['ga_text']} ({how})", f"Expected date of delivery: {_day(d['edd'])}"
    pm = f" +/- {d['precision_days']:g} days" if d.get("precision_days") else ""
    return (f"Gestational age {d['ga_text']}{pm} (estimated from this scan; size for dates cannot be judged "
            f"without an LMP, EDD or dating scan)", f"Expected date of delivery (from this scan): {_day(d['edd'])}")


FLAG_WORDS = {"ok": "measured", "low_quality": "low image quality: check", "implausible": "unusual: check",
              "out_of_range": "outside formula range", "no_measurement": "not measured"}


def centile_text(c: float | None) -> str:
    if c is None:
        return "-"
    if c < 1:
        return "below 1st"
    if c > 99:
        return "above 99th"
    n = int(round(c))
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _rows(exam: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for name, label in NAMES.items():
        m = (exam.get("measurements") or {}).get(name)
        if m is None:
            continue
        if m.get("value") is None:
            value = "not measured"
            how = {"ac": "not measured by this device", "fl": "not measured by this device",
                   "efw": "needs the abdomen (AC)"}.get(name, FLAG_WORDS.get(m.get("flag"), ""))
        else:
            value = f"{m['value']:.0f} g" if m["unit"] == "g" else f"{m['value']:.1f} {m['unit']}"
            manual = "uses lengths given by hand" if name == "efw" else "given by hand"
            how = manual if m.get("source") == "manual" else FLAG_WORDS.get(m["flag"], m["flag"])
        rows.append((label, value, centile_text(m.get("centile")), how))
    return rows


def _review_line(exam: Mapping[str, Any]) -> str:
    r = exam.get("review") or {"state": "unreviewed"}
    if r["state"] == "unreviewed":
        return AI_NOTICE
    who = f" by {r['by']}" if r.get("by") else ""
    return f"Reviewed{who} on {_day(r.get('at'))}: {r['state']}." + (f" Note: {r['note']}" if r.get("note") else "")


def render_report(exam: Mapping[str, Any], out: str | Path, clinic: str, image_png: bytes | None) -> Path:
    """Write the one-page PDF for a stored exam (ExamResult.to_dict()) to `out`."""
    out = Path(out)
    if out.suffix.lower() != ".pdf" or not out.parent.is_dir():
        raise InputError(f"--out {out}: give a .pdf file in an existing folder")
    pdf = _fpdf()(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.set_margins(15, 12, 15)
    pdf.add_page()
    w = pdf.w - 30

    def text(s: str, size: float = 10, style: str = "", h: float = 5.5, colour: tuple = (0, 0, 0)) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(w, h, _latin1(s), align="L", new_x="LMARGIN", new_y="NEXT")

    text("Fetal ultrasound record", 16, "B", 8)
    text(f"{clinic}    Exam date: {_day(exam.get('started_at'))}    Singleton pregnancy", 10)
    reviewed = (exam.get("review") or {}).get("state", "unreviewed") != "unreviewed"
    text(_review_line(exam), 11, "B", 6, (0, 0, 0) if reviewed else (170, 40, 0))
    pdf.ln(2)
    ga, edd = _ga_line(exam)
    text(ga, 12, "B", 6)
    if edd:
        text(edd, 11, "", 6)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    cols = (70, 35, 25, w - 130)
    for head, cw in zip(("Measurement", "Value", "Centile", "Note"), cols):
        pdf.cell(cw, 6, head, border="B")
    pdf.ln(6)
    pdf.set_font("Helvetica", "", 10)
    for row in _rows(exam):
        for cell, cw in zip(row, cols):
            pdf.cell(cw, 6, _latin1(cell))
        pdf.ln(6)
    judged = [m for m in (exam.get("measurements") or {}).values() if m.get("centile") is not None]
    std = sorted({m["standard"] for m in judged})
    if std:
        text(f"Centile: where this baby sits among healthy babies of the same age (50th = average), by "
             f"{'; '.join(std)}.", 8, "", 4, (80, 80, 80))
    pdf.ln(2)
    alerts = exam.get("alerts") or []
    if alerts:
        text("What needs doing", 12, "B", 6)
    elif judged:
        text("No alerts: the measurements fit the dates.", 12, "B", 6)
    else:
        text("No alerts, but size for dates was not judged (no dates known before the scan).", 11, "B", 6)
    for a in alerts:
        text(f"{SEVERITY_WORDS.get(a['severity'], a['severity'].upper())}: {a['message']}", 10, "", 5,
             (170, 0, 0) if a["severity"] == "refer" else (0, 0, 0))
    for flag in exam.get("exam_flags") or []:
        text(f"Exam note: {flag}", 9, "", 4.5, (120, 60, 0))
    pdf.ln(2)
    if image_png:
        y = pdf.get_y()
        room = pdf.h - 30 - y
        pdf.image(io.BytesIO(image_png), x=15, y=y, h=min(room, 95))
        pdf.set_y(y + min(room, 95) + 2)
    else:
        text("(No frame image kept on this device for this exam.)", 9, "", 5, (80, 80, 80))
    models = ", ".join(f"{m['name']} {m['version']} ({m['sha256'][:12]})" for m in exam.get("models") or [])
    pdf.set_y(pdf.h - 24)
    text(f"Models: {models or '-'}", 7.5, "", 3.6, (80, 80, 80))
    text(f"Result {exam.get('result_id')}" + (f", supersedes {exam['supersedes']}" if exam.get("supersedes") else "")
         + ". Printed by fetal-edge.", 7.5, "", 3.6, (80, 80, 80))
    pdf.output(str(out))
    return out
