"""Losses with partial labels: a brain image without a known sub-plane supervises the brain group only."""

from __future__ import annotations

import torch
import torch.nn.functional as F

N_BRAIN = 3  # model classes 0..2 are the brain sub-planes (edge.planes.taxonomy.MODEL_CLASSES)


def partial_label_nll(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                      label_smoothing: float = 0.0) -> torch.Tensor:
    """Per-sample NLL: -log p[target] for target >= 0; -log(sum of brain sub-plane p) for target == -1."""
    logp = F.log_softmax(logits, dim=1)
    known = target >= 0
    safe = target.clamp_min(0)
    nll = -logp.gather(1, safe[:, None])[:, 0]
    if label_smoothing > 0:
        nll = (1 - label_smoothing) * nll - label_smoothing * logp.mean(dim=1)
    group = -torch.logsumexp(logp[:, :N_BRAIN], dim=1)
    loss = torch.where(known, nll, group)
    if weight is not None:
        return (loss * weight).sum() / weight.sum()
    return loss.mean()
