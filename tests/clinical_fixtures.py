"""The issue's example exam, shared by the clinical, payload, review, FHIR and report tests: a head measured
on 2026-12-12 (HC 265, BPD 77, OFD 100 mm by the model), dated by LMP 2026-05-02 (32w0d) unless told otherwise."""

from __future__ import annotations

from edge.clinical.dating import pregnancy_from
from edge.manifest import ModelRef
from edge.pipeline.exam import build_exam
from edge.results import ExamResult, Measurement

SEG = ModelRef("head-seg", "1.0.0", "ab" * 32)


def exam_32_weeks(lmp: str | None = "2026-05-02", given: dict | None = None, hc: float = 265.0) -> ExamResult:
    frames = [{n: Measurement(n, v, "mm", 0.9, "ok", SEG, "ellipse_fit_outer_outer") for n, v in
               (("hc", hc), ("bpd", 77.0), ("ofd", 100.0))}]
    return build_exam(clinic_id="clinic-a", device_id="dev-1", started_at="2026-12-12T09:00:00.000Z",
                      ended_at="2026-12-12T09:05:00.000Z", status="complete", head_frames=frames,
                      no_head_reason="no head", planes_seen={"Fetal brain": 5, "unknown": 2}, models=[SEG],
                      frames=7, dropped=0, fps=12.0, given_mm=given,
                      pregnancy=pregnancy_from(lmp=lmp) if lmp else None)
