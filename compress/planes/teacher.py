"""Teacher: frozen SonoNet-16 (published weights) + a new head trained on our taxonomy.

CPU is scarce (1.24 GMAC per frame), so the backbone stays frozen and the head learns from cached
features of augmented views (`compress.planes.features`): standardised features -> MLP -> 9 logits (8 planes + junk).
`PlaneTeacher` chains backbone and head for end-to-end use (ONNX, distillation on new views).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from compress.nets.sononet import SonoNet16, load_sononet16
from compress.planes.features import FEATURE_DIM, sononet_features
from compress.planes.losses import partial_label_nll
from compress.training import Schedule, batches_per_epoch, epoch_batches, fit
from edge.planes.taxonomy import MODEL_CLASSES

TEACHER_CHECKPOINT = Path("runs/planes/teacher.pt")


class TeacherHead(nn.Module):
    def __init__(self, in_dim: int = FEATURE_DIM, hidden: int = 256, n_classes: int = len(MODEL_CLASSES),
                 dropout: float = 0.3) -> None:
        super().__init__()
        self.register_buffer("mu", torch.zeros(in_dim))
        self.register_buffer("sd", torch.ones(in_dim))
        self.mlp = nn.Sequential(nn.Dropout(0.1), nn.Linear(in_dim, hidden), nn.ReLU(inplace=True),
                                 nn.Dropout(dropout), nn.Linear(hidden, n_classes))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.mlp((feats - self.mu) / self.sd)


def class_weights(plane_idx: np.ndarray) -> np.ndarray:
    """Per-sample weights that balance the six planes and junk (index 6) (inverse frequency, mean 1)."""
    counts = np.bincount(plane_idx, minlength=7).astype(np.float64)
    w = 1.0 / np.maximum(counts[plane_idx], 1.0)
    return (w / w.mean()).astype(np.float32)


def train_head(feats: np.ndarray, targets: np.ndarray, plane_idx: np.ndarray, epochs: int = 40,
               seed: int = 0, lr: float = 2e-3, batch: int = 128) -> TeacherHead:
    """Fit the head on (V, FEATURE_DIM) view features; targets -1 = brain with unknown sub-plane."""
    torch.manual_seed(seed)
    head = TeacherHead(feats.shape[1])
    x = torch.from_numpy(feats.astype(np.float32))
    head.mu.copy_(x.mean(0))
    head.sd.copy_(x.std(0).clamp_min(1e-3))
    y = torch.from_numpy(targets.astype(np.int64))
    w = torch.from_numpy(class_weights(plane_idx))
    gen = torch.Generator().manual_seed(seed)
    batches = ((x[b], (y[b], w[b])) for b in epoch_batches(len(x), batch, gen))
    schedule = Schedule(epochs, batches_per_epoch(len(x), batch), lr, "one_cycle", weight_decay=1e-2, warmup=0.3)
    fit(head, batches, lambda _x, yw, out: partial_label_nll(out, yw[0], yw[1], label_smoothing=0.05), schedule)
    return head.eval()


@torch.no_grad()
def head_logits(head: TeacherHead, feats: np.ndarray) -> np.ndarray:
    return head(torch.from_numpy(feats.astype(np.float32))).numpy()


class PlaneTeacher(nn.Module):
    """SonoNet-16 backbone + TeacherHead: forward(uint8-range views (N,224,288) as float) -> 8 logits."""

    def __init__(self, backbone: SonoNet16, head: TeacherHead) -> None:
        super().__init__()
        self.backbone, self.head = backbone.eval(), head.eval()

    @torch.no_grad()
    def logits_of_views(self, views: np.ndarray) -> np.ndarray:
        return head_logits(self.head, sononet_features(self.backbone, views))


def save_teacher(head: TeacherHead, path: Path = TEACHER_CHECKPOINT, **meta: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"head": head.state_dict(), "in_dim": int(head.mu.numel()), "meta": meta}, path)
    return path


def build_teacher(sononet_npz: str | Path, checkpoint: str | Path = TEACHER_CHECKPOINT) -> PlaneTeacher:
    """The trained teacher: published SonoNet-16 weights + the head saved by `train-planes`."""
    ckpt = torch.load(Path(checkpoint), map_location="cpu", weights_only=True)
    head = TeacherHead(int(ckpt["in_dim"]))
    head.load_state_dict(ckpt["head"])
    return PlaneTeacher(load_sononet16(sononet_npz), head)
