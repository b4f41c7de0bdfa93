"""Fields new in result schema 1.1 (docs: /work/coord/payload-1.1.md, docs/sync.md) and the free-text rule.

Free text (reasons, notes, alert messages, exam flags) is bounded and refused when it holds an obvious
identifier: a date of birth, a phone number or an ID number. The device checks before a result leaves it;
the receiver runs the same check. ISO dates are allowed (an LMP is not an identifier) unless they are
marked as a birth date.
"""

from __future__ import annotations

import re
from typing import Any

from edge.sync import checks as c

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GA_TEXT_RE = re.compile(r"^\d{1,2}w\dd$")
RULE_RE = re.compile(r"^[a-z0-9_]{1,64}$")
_DOB = re.compile(r"\b(d\.?o\.?b\.?|date of birth|born( on)?|birth ?date)\b", re.IGNORECASE)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_DIGIT_RUN = re.compile(r"\+?\d[\d\s()/-]*\d")
_ID_WORD = re.compile(r"\b(mrn|nhs|passport|national id|patient id|hospital (no|number)|id (no|number))\b",
                      re.IGNORECASE)
ALERT_MESSAGE_MAX = 500
NOTE_MAX = 500
NAME_MAX = 80
MEASUREMENT_FIELDS_11 = {"centile", "z", "standard", "centile_reason", "source"}
TOP_FIELDS_11 = {"pregnancy", "dating", "alerts", "review", "supersedes", "exam_flags", "plane_summary"}


def identifier_in(text: str) -> str | None:
    """What looks like a personal identifier in `text` (for the error message), or None."""
    if _DOB.search(text):
        return "a date of birth"
    if _ID_WORD.search(text):
        return "an ID number"
    for run in _DIGIT_RUN.findall(_ISO_DATE.sub(" ", text)):
        digits = sum(ch.isdigit() for ch in run)
        if digits >= 9 or (digits >= 8 and run.isdigit()):
            return "a phone or ID number"
    return None


def free_text(value: Any, path: str, max_len: int, nullable: bool = True) -> None:
    c.string(value, path, max_len, nullable=nullable)
    if value is not None:
        found = identifier_in(value)
        if found:
            raise c.fail(path, f"looks like it holds {found}; free text must not identify the mother "
                               "(write the note without it)", value)


def date_text(value: Any, path: str, nullable: bool = True) -> None:
    c.string(value, path, 10, DATE_RE, nullable=nullable)


def measurement_extra(m: dict[str, Any], path: str) -> None:
    c.number(m["centile"], f"{path}.centile", 0.0, 100.0, nullable=True)
    c.number(m["z"], f"{path}.z", -50.0, 50.0, nullable=True)
    c.string(m["standard"], f"{path}.standard", 200, nullable=True)
    free_text(m["centile_reason"], f"{path}.centile_reason", 2000)
    c.string(m["source"], f"{path}.source", 8, choices=("model", "manual"))


def _pregnancy(p: Any) -> None:
    c.mapping(p, "pregnancy", {"plurality", "basis", "lmp", "edd", "dating_scan"})
    c.string(p["plurality"], "pregnancy.plurality", 16, choices=("singleton",))
    c.string(p["basis"], "pregnancy.basis", 16, choices=("lmp", "edd", "dating_scan"), nullable=True)
    date_text(p["lmp"], "pregnancy.lmp")
    date_text(p["edd"], "pregnancy.edd")
    scan = p["dating_scan"]
    if scan is not None:
        c.mapping(scan, "pregnancy.dating_scan", {"ga_days", "on"})
        c.number(scan["ga_days"], "pregnancy.dating_scan.ga_days", 0, 400, integer=True)
        date_text(scan["on"], "pregnancy.dating_scan.on", nullable=False)


def _dating(d: Any) -> None:
    c.mapping(d, "dating", {"ga_days", "ga_text", "precision_days", "edd", "source", "method"})
    c.number(d["ga_days"], "dating.ga_days", 0.0, 350.0, nullable=True)
    c.string(d["ga_text"], "dating.ga_text", 8, GA_TEXT_RE, nullable=True)
    c.number(d["precision_days"], "dating.precision_days", 0.0, 100.0, nullable=True)
    date_text(d["edd"], "dating.edd")
    c.string(d["source"], "dating.source", 16, choices=("established", "biometry"), nullable=True)
    c.string(d["method"], "dating.method", 100, nullable=True)


def _alert(a: Any, path: str) -> None:
    c.mapping(a, path, {"rule", "measurement", "value", "unit", "threshold", "standard", "centile", "severity",
                        "message"})
    c.string(a["rule"], f"{path}.rule", 64, RULE_RE)
    c.string(a["measurement"], f"{path}.measurement", 8, choices=("hc", "bpd", "ofd", "ac", "fl", "efw", "ga"))
    c.number(a["value"], f"{path}.value", -1e6, 1e6)
    c.string(a["unit"], f"{path}.unit", 8)
    c.string(a["threshold"], f"{path}.threshold", 40)
    c.string(a["standard"], f"{path}.standard", 200, nullable=True)
    c.number(a["centile"], f"{path}.centile", 0.0, 100.0, nullable=True)
    c.string(a["severity"], f"{path}.severity", 8, choices=("refer", "review", "info"))
    free_text(a["message"], f"{path}.message", ALERT_MESSAGE_MAX, nullable=False)


def _review(r: Any) -> None:
    c.mapping(r, "review", {"state", "by", "at", "note"})
    c.string(r["state"], "review.state", 16, choices=("unreviewed", "accepted", "corrected"))
    free_text(r["by"], "review.by", NAME_MAX)
    c.timestamp(r["at"], "review.at", nullable=True)
    free_text(r["note"], "review.note", NOTE_MAX)
    if (r["state"] == "unreviewed") != (r["at"] is None):
        raise c.fail("review.at", "must be null exactly when the state is unreviewed", r["at"])


def top_extra(d: dict[str, Any]) -> None:
    """Validate the top-level fields new in 1.1."""
    _pregnancy(d["pregnancy"])
    _dating(d["dating"])
    for i, a in enumerate(c.array(d["alerts"], "alerts", 16)):
        _alert(a, f"alerts[{i}]")
    _review(d["review"])
    c.string(d["supersedes"], "supersedes", 36, c.UUID_RE, nullable=True)
    if d["supersedes"] is not None and d["review"]["state"] == "unreviewed":
        raise c.fail("supersedes", "a result that supersedes another is a review (state accepted/corrected)",
                     d["supersedes"])
    for i, f in enumerate(c.array(d["exam_flags"], "exam_flags", 16)):
        free_text(f, f"exam_flags[{i}]", NOTE_MAX, nullable=False)
    s = d["plane_summary"]
    c.mapping(s, "plane_summary", {"frames_classified", "unknown_frames", "mean_confidence"})
    c.number(s["frames_classified"], "plane_summary.frames_classified", 0, 10**9, integer=True)
    c.number(s["unknown_frames"], "plane_summary.unknown_frames", 0, 10**9, integer=True)
    c.number(s["mean_confidence"], "plane_summary.mean_confidence", 0.0, 1.0, nullable=True)
