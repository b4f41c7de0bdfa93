"""The on-device pipeline: frame source -> planes + best frames -> head biometry -> exam result -> store.

Entry point: `ExamRunner(cfg, PlaneStage(...), HeadStage(...), store).run(source, stop, on_status)`.
"""
