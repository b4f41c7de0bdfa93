"""Knowledge-distillation loss shared by every task (classification logits (N,C) or dense logits (N,C,H,W))."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, hard_loss: torch.Tensor,
                      temperature: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * hard_loss, class dim = 1.

    Binary outputs (one channel) are distilled as two-class logits [0, z].
    """
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} != teacher {tuple(teacher_logits.shape)}")
    if student_logits.shape[1] == 1:
        zeros = torch.zeros_like(student_logits)
        student_logits = torch.cat([zeros, student_logits], 1)
        teacher_logits = torch.cat([torch.zeros_like(teacher_logits), teacher_logits], 1)
    t = float(temperature)
    log_p_s = F.log_softmax(student_logits / t, dim=1)
    p_t = F.softmax(teacher_logits.detach() / t, dim=1)
    kl = (p_t * (torch.log(p_t.clamp_min(1e-8)) - log_p_s)).sum(dim=1).mean()
    return alpha * (t * t) * kl + (1.0 - alpha) * hard_loss
