"""The compression pipeline: one recipe (YAML) per shipped model -> the bundle that ships.

    fetal-compress pipeline --task TASK --config compress/configs/TASK.yaml   # train ... quantize, bundle, card
    fetal-compress ship runs/compress/TASK/bundle                             # verify, install into edge/models

Parts: config.py (the recipe schema; `check_inputs` refuses missing files before any work), registry.py (stages
in ORDER: train, prune, calibrate, export, quantize), runner.py, workdir.py (artifacts + state.json),
manifest.py (the ONE manifest writer: `manifest_dict` + `write_manifest`), bundle.py (bundle = INT8 + FP32 ONNX,
report, MODEL_CARD.md, manifest), card.py (the card the run writes), report.py, ship.py.

What a task plugs in (compress/tasks/base.py, TaskAdapter; register with `@TASKS.register(name)`):
- networks: `student.family` / `teacher.family` name entries of compress.nets.families (register a Family in the
  network's module and list the module in FAMILY_MODULES), or override `build_student(family, width_mult)` /
  `build_teacher(family, width_mult)`;
- training (the one loop, compress.training.fit): `train_batches(batch_size, seed)` (endless, augmented),
  `steps_per_epoch(batch_size)`, `hard_loss(logits, y)`, optional `validation_score(model)` (train.select:
  best_val), `init_frames(n, seed)` (student.init: sononet16), `teacher_logits` (cached teacher outputs);
- metrics and gates: `evaluate(predict)` on the gate's validation split; `final_metrics(predict)` (e.g. a test
  split) for the manifest and card, run on both graphs;
- post-processing: `calibrate(predict)` fits it on validation data and returns the manifest keys it sets
  (biometry: {"postprocessing": ...}; planes: {"calibration_params": {...}}), `use_calibration(keys)`;
- INT8: `calibration(n_frames)`; the card: `card_results(final, installed_dir)`; extra manifest keys:
  `manifest_extra(predict)`.
Every ONNX goes through compress.stages.export.export_onnx (the ONE exporter).
"""
