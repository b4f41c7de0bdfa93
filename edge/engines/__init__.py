"""TensorRT engines on the device: built on the Jetson they run on, cached, and never loaded when stale.

- device.py: TensorRT version / compute capability rules and the precision choice (FP16 on Maxwell, INT8
  from the QDQ graph where the GPU has fast INT8);
- cache.py: the cache key (model sha256, TensorRT version, GPU name + compute capability, precision,
  DLA core), sidecar metadata and the stale / foreign engine check;
- plan.py: bundle + `engines` settings + device -> BuildSpec;
- manager.py: `ensure_engines` (the entry point; `fetal-edge build-engines` calls it);
- trt_builder.py: the TensorRT calls themselves (lazy import; nothing else here imports TensorRT).
"""
