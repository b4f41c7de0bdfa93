"""One exam from a frame source: capture thread -> ROI blanking -> planes every frame -> best frames ->
head biometry on candidates -> ExamResult, stored at once when the exam ends, however it ends.

The exam ends when the source ends ("complete"), or as "partial" when the user stops it, the stream
stalls longer than `source.stall_timeout_s`, the source fails, or a model fails mid-exam. In every
case what was measured so far is built into a result and saved before `run` returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from edge.clinical.physical import check_given, judge_exam
from edge.config import Config
from edge.errors import FetalEdgeError, InputError
from edge.pipeline.analyzers import HeadStage, PlaneStage, head_score
from edge.pipeline.best import BestFrames
from edge.pipeline.capture import CaptureThread
from edge.biometry.overlay import render_overlay
from edge.clinical.dating import Pregnancy
from edge.pipeline.exam import build_exam, combine, live_alerts
from edge.pipeline.status import Recorder, Status, draw_overlay
from edge.results import ExamResult, Measurement, utc_now
from edge.roi import RoiTracker, blank_outside
from edge.sources import Frame, FrameSource
from edge.spacing import SpacingResolver

log = logging.getLogger(__name__)
HEAD_KEY = "head"
NO_HEAD = "no trans-thalamic head plane was seen"


@dataclass
class RunOutcome:
    exam: ExamResult
    end_reason: str
    stored: bool
    store_warnings: list[str]


class ExamRunner:
    def __init__(self, cfg: Config, planes: PlaneStage, head: HeadStage, store: object | None = None,
                 user_spacing_mm: float | None = None, recorder: Recorder | None = None,
                 given_mm: dict[str, float] | None = None, pregnancy: Pregnancy | None = None) -> None:
        self.cfg, self.planes, self.head, self.store, self.recorder = cfg, planes, head, store, recorder
        self.p = cfg.section("pipeline")
        self.src = cfg.section("source")
        pre = cfg.section("preprocess")
        self.roi = RoiTracker(pre.roi_every, pre.roi_threshold) if pre.roi else None
        presets = dict(pre.probe_presets)
        preset = pre.probe_preset
        if pre.pixel_spacing_mm is not None:
            presets, preset = {"config": pre.pixel_spacing_mm}, "config"
        self.spacing = SpacingResolver(user_spacing_mm, presets, preset)
        self.given_mm = check_given(given_mm or {})
        self.clinical = cfg.section("clinical")
        self.pregnancy = pregnancy if pregnancy is not None else self.clinical.pregnancy  # the CLI overrides config
        self.confidence_sum = 0.0
        self.timings: Counter[str] = Counter()

    def run(self, source: FrameSource, stop: threading.Event | None = None,
            on_status: Callable[[Status], None] | None = None) -> RunOutcome:
        stop = stop or threading.Event()
        capture = CaptureThread(source, self.p.queue_size, self.src.read_timeout_s).start()
        best, seen = BestFrames(self.p.top_k), Counter()
        status, started, t0 = Status(), utc_now(), time.monotonic()
        last_status = last_bio = 0.0
        status_word, reason = "partial", "stopped"
        try:
            while True:
                if stop.is_set():
                    reason = "stopped by the user"
                    break
                frame = capture.get(self.src.read_timeout_s)
                if frame is None:
                    if capture.ended:
                        failure = capture.error or getattr(source, "failure", None)
                        status_word, reason = ("partial", f"source failed: {failure}") if failure else \
                            ("complete", "source ended")
                        break
                    if capture.seconds_since_frame() > self.src.stall_timeout_s:
                        reason = f"stream stalled: no frame for {self.src.stall_timeout_s:.1f} s"
                        break
                    continue
                self._frame(frame, best, seen, status)
                now = time.monotonic()
                status.fps = status.frames / max(now - t0, 1e-6)
                status.dropped = capture.frames_dropped
                if now - last_bio >= self.p.biometry_interval_s and self._measure_one(best, status):
                    last_bio = time.monotonic()
                if on_status and now - last_status >= self.p.status_interval_s:
                    on_status(status)
                    last_status = now
                if self.p.max_frames and status.frames >= self.p.max_frames:
                    status_word, reason = "complete", f"max_frames {self.p.max_frames} reached"
                    break
        except FetalEdgeError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("exam interrupted: %s; storing what was measured", reason)
        except KeyboardInterrupt:
            reason = "interrupted"
        except Exception as exc:  # a bug must not lose the exam: log it, store the partial result
            reason = f"internal error {type(exc).__name__}: {exc}"
            log.exception("exam interrupted by an internal error; storing what was measured")
        finally:
            capture.stop()
            if self.recorder:
                self.recorder.close()
        return self._finish(best, seen, status, started, status_word, reason, capture, time.monotonic() - t0)

    def _frame(self, frame: Frame, best: BestFrames, seen: Counter, status: Status) -> None:
        # Models see the frame as captured (as in training: blanking the dark surround cost 0.55 mm of HC
        # error on held-out HC18); only what leaves the process (the overlay video) is blanked.
        img = frame.image
        t1 = time.perf_counter()
        try:
            pred, stable = self.planes(img)
        except InputError as exc:  # an unusable frame is skipped, never fatal
            log.debug("frame %d skipped: %s", frame.index, exc)
            return
        self.timings["planes"] += time.perf_counter() - t1
        status.frames += 1
        seen[pred.plane] += 1
        self.confidence_sum += pred.confidence
        status.plane, status.brain_plane, status.confidence = stable.plane, stable.brain_plane, stable.confidence
        score = head_score(pred, stable, self.p.head_min_prob)
        if score is not None:
            best.offer(HEAD_KEY, score, frame.index, img, self.spacing.resolve(frame.pixel_spacing_mm).mm_per_px)
        if self.recorder:
            self.recorder.write(draw_overlay(self._outgoing(img), status))

    def _outgoing(self, img: np.ndarray) -> np.ndarray:
        """The frame as it may leave the device: outside the sector blanked; all black if no sector found."""
        if self.roi is None:
            return img
        t = time.perf_counter()
        out = blank_outside(img, self.roi.update(img))
        self.timings["roi"] += time.perf_counter() - t
        return out if self.roi.safe else np.zeros_like(img)

    def _measure_one(self, best: BestFrames, status: Status) -> bool:
        todo = best.unmeasured(HEAD_KEY)
        if not todo:
            return False
        t = time.perf_counter()
        todo[0].measured = self.head(todo[0].image, todo[0].mm_per_px)
        self.timings["biometry"] += time.perf_counter() - t
        self.timings["biometry_runs"] += 1
        done = [c.measured for c in best.best(HEAD_KEY) if c.measured]
        status.measurements = {n: combine(n, [d[n] for d in done], NO_HEAD) for n in ("hc", "bpd", "ofd")}
        status.alerts = live_alerts(status.measurements, self.pregnancy, self.clinical.alerts)
        return True

    def _best_frame_png(self, best: BestFrames) -> bytes | None:
        """The best measured head frame with its ellipse, sector-blanked, as PNG (device only: the printed
        report shows it; it is never synced). None without a measured head or if drawing fails."""
        for c in best.best(HEAD_KEY):
            head = (c.measured or {}).get("head")
            if head is not None and head.ellipse is not None:
                try:
                    img = render_overlay(blank_outside(c.image, RoiTracker().update(c.image)), head)
                    ok, png = cv2.imencode(".png", img)
                    return png.tobytes() if ok else None
                except (cv2.error, ValueError) as exc:
                    log.warning("best frame not kept for the report: %s", exc)
                    return None
        return None

    def _finish(self, best: BestFrames, seen: Counter, status: Status, started: str, status_word: str,
                reason: str, capture: CaptureThread, elapsed: float) -> RunOutcome:
        try:
            while self._measure_one(best, status):
                pass
        except FetalEdgeError as exc:
            log.error("biometry failed at the end of the exam: %s", exc)
        head_frames = [c.measured for c in best.best(HEAD_KEY) if c.measured]
        ids = self.cfg.section("sync")
        exam = build_exam(clinic_id=ids.clinic_id, device_id=ids.device_id, started_at=started, ended_at=utc_now(),
                          status=status_word, head_frames=head_frames, no_head_reason=NO_HEAD,
                          planes_seen=dict(seen), models=[self.planes.ref, self.head.ref], frames=status.frames,
                          dropped=capture.frames_dropped, fps=status.frames / elapsed if elapsed > 0 else None,
                          ga_method=self.p.ga_method, efw_method=self.p.efw_method, given_mm=self.given_mm,
                          pregnancy=self.pregnancy, rules=self.clinical.alerts,
                          plane_summary={"frames_classified": status.frames, "unknown_frames": seen.get("unknown", 0),
                                         "mean_confidence": round(self.confidence_sum / status.frames, 4)
                                         if status.frames else None})
        exam = judge_exam(exam)   # lengths given by hand too: what is printed is what is stored and sent
        stored, warnings = False, []
        if self.store is not None:
            try:
                receipt = self.store.save(exam, image_png=self._best_frame_png(best))
                stored, warnings = True, list(receipt.warnings)
            except FetalEdgeError as exc:  # the caller still gets the exam (printed, so it is not lost)
                warnings = [f"exam NOT stored: {exc}"]
                log.error("exam %s NOT stored: %s", exam.result_id, exc)
        log.info("exam %s %s (%s): %d frames, %d dropped", exam.result_id, status_word, reason, exam.frames,
                 exam.frames_dropped)
        return RunOutcome(exam, reason, stored, warnings)

