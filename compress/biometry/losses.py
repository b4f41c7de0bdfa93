"""The head-segmentation loss (Dice + BCE on the soft reference mask) and the validation score (Dice)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def dice_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(logits)
    inter = (p * target).sum((1, 2, 3))
    dice = 1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + dice.mean()


def hard_dice(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-item Dice of the mask logits > 0 against the target > 0.5, at model resolution."""
    p, t = (logits > 0).float(), (target > 0.5).float()
    return 2 * (p * t).sum((1, 2, 3)) / (p.sum((1, 2, 3)) + t.sum((1, 2, 3))).clamp_min(1)
