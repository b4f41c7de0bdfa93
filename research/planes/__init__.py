"""Plane-student probes and ablations (SonoNet backbone probe, flip TTA, low-rank latency)."""
