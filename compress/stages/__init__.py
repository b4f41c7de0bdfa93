"""Compression stages, one module each (distill, prune, export, quantize); each registers itself in
`compress.pipeline.registry.STAGES` with one entry point `run(ctx) -> StageOutcome`."""
