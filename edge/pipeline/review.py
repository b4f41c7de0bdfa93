"""Review of a stored exam by a trained person: accept it, or correct lengths. Never in place.

A review is a NEW result (new result_id) that `supersedes` the reviewed one: stored and synced once like any
result, so the receiver keeps the history and shows the latest. A correction re-runs the clinical layer
(dating, centiles, alerts) on the corrected lengths, with what was known before the scan as the exam had
it; an acceptance keeps every number and only records who accepted it and when.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any, Mapping

from edge.clinical.alerts import AlertRule
from edge.clinical.dating import pregnancy_from_dict
from edge.errors import InputError
from edge.pipeline.exam import exam_date, interpret
from edge.results import RESULT_SCHEMA_VERSION, ExamResult, Measurement, exam_from_dict, utc_now
from edge.sync.schema_v11 import NAME_MAX, NOTE_MAX, identifier_in

CORRECTABLE = ("hc", "bpd", "ofd", "ac", "fl")
CORRECTION_METHOD = "review_correction"


def check_words(value: str | None, flag: str, limit: int) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > limit:
        raise InputError(f"{flag}: 1-{limit} characters, got {len(value)}")
    found = identifier_in(value)
    if found:
        raise InputError(f"{flag} {value!r} looks like it holds {found}; the result is synced, so write it "
                         "without anything that identifies the mother")
    return value


def _corrected(m: Measurement | None, name: str, value: float, by: str | None) -> Measurement:
    was = f"was {m.value:g} mm by {m.method}" if m is not None and m.value is not None else "was not measured"
    return Measurement(name, value, "mm", 1.0, "ok", None, CORRECTION_METHOD,
                       f"corrected in review{f' by {by}' if by else ''} ({was})", 0, source="manual")


def review(original: Mapping[str, Any], *, corrections: dict[str, float] | None, note: str | None,
           by: str | None, ga_method: str, efw_method: str, rules: tuple[AlertRule, ...]) -> ExamResult:
    """The new result that supersedes `original` (a stored exam dict): accepted if no corrections."""
    note, by = check_words(note, "--note", NOTE_MAX), check_words(by, "--by", NAME_MAX)
    exam = exam_from_dict(dict(original))
    state = "corrected" if corrections else "accepted"
    new = replace(exam, result_id=str(uuid.uuid4()), supersedes=exam.result_id, schema_version=RESULT_SCHEMA_VERSION,
                  review={"state": state, "by": by, "at": utc_now(), "note": note})
    if not corrections:
        return new
    lengths = {n: m for n, m in exam.measurements.items() if n in CORRECTABLE}
    for name, value in corrections.items():
        lengths[name] = _corrected(lengths.get(name), name, value, by)
    meas, checks, dating, alerts, flags = interpret(lengths, pregnancy_from_dict(exam.pregnancy),
                                                    exam_date(exam.started_at), ga_method, efw_method, rules)
    return replace(new, measurements=meas, plausibility=checks, dating=dating, alerts=alerts,
                   exam_flags=list(dict.fromkeys(exam.exam_flags + flags)))
