"""How much of a pretrained backbone survives a smaller input: a linear probe on frozen features.

For SonoNet-16 and SonoNet's SmallNet at several input sizes, for SonoNet-S cuts (filters chosen by
`copy_strongest_filters`, frozen) of other widths and input sizes within the student's 100 M MAC budget, and
for SonoNet-LR (full width, PCA-factorised convolutions, frozen) at three ranks, and for SonoNet-LR with its
first one or two blocks cut to SonoNet-S's widths instead (`front_cut`, filled by
`sono_lowrank.fill_from_sononet`; faster in onnxruntime, research/planes/rank_latency.py):
global mean + max of the last conv block on the clean development frames, a class-balanced linear layer,
5-fold patient-grouped CV (compress.data.planes). A guide for choosing a plane student's starting point
(docs/planes.md, 1-3 Dec 2026), not a product number.
Run (project root): .venv/bin/python -m research.planes.backbone_probe (about 3 min on 2 cores).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from compress.data.planes import grouped_folds, load_records, split_dev_heldout
from compress.nets.sononet import load_sononet16
from compress.paths import default_data_dir
from compress.planes.augment import clean_view
from edge.imageio import read_gray

N_PLANES = 6
# SmallNet (Baumgartner et al. 2017): (kernel, stride, padding) of its four conv layers before the 1x1 head;
# 2x2 max pooling after the first two; Lasagne flips the kernels (true convolution)
SMALLNET_CONVS = ((7, 2, 0), (5, 2, 0), (3, 1, 1), (3, 1, 1))


def sononet_input(views: np.ndarray) -> torch.Tensor:
    x = views.astype(np.float32)
    x = (x - x.mean((1, 2), keepdims=True)) / np.maximum(x.std((1, 2), keepdims=True), 1e-6) * 255.0
    return torch.from_numpy(x[:, None])


def smallnet_backbone(npz) -> Callable[[torch.Tensor], torch.Tensor]:
    with np.load(npz, allow_pickle=False) as d:
        arrays = [d[f"arr_{i}"] for i in range(2 * len(SMALLNET_CONVS))]
    convs = []
    for i, (k, stride, pad) in enumerate(SMALLNET_CONVS):
        w = torch.from_numpy(np.ascontiguousarray(arrays[2 * i][:, :, ::-1, ::-1])).float()
        conv = torch.nn.Conv2d(w.shape[1], w.shape[0], k, stride, pad)
        conv.weight.data, conv.bias.data = w, torch.from_numpy(arrays[2 * i + 1]).float()
        convs.append(conv)

    def features(x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(convs):
            x = F.relu(conv(x))
            if i < 2:
                x = F.max_pool2d(x, 2)
        return x

    return features


@torch.no_grad()
def pooled_features(backbone: Callable[[torch.Tensor], torch.Tensor], grays: list[np.ndarray],
                    hw: tuple[int, int]) -> np.ndarray:
    views = np.stack([clean_view(g, hw) for g in grays])
    out = []
    for i in range(0, len(views), 32):
        f = backbone(sononet_input(views[i:i + 32]))
        out.append(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))
    return torch.cat(out).numpy()


def probe(x: np.ndarray, y: np.ndarray, dev: list[int], folds: list[np.ndarray]) -> np.ndarray:
    """Out-of-fold predictions of a class-balanced linear layer over the dev records."""
    x = (x - x[dev].mean(0)) / (x[dev].std(0) + 1e-6)
    pred = np.full(len(x), -1)
    for fold in folds:
        train = np.setdiff1d(dev, fold)
        torch.manual_seed(0)
        layer = torch.nn.Linear(x.shape[1], N_PLANES)
        opt = torch.optim.Adam(layer.parameters(), 1e-2, weight_decay=1e-3)
        weight = torch.from_numpy(1.0 / np.bincount(y[train], minlength=N_PLANES).clip(1)).float()
        xt, yt = torch.from_numpy(x[train]).float(), torch.from_numpy(y[train])
        for _ in range(300):
            opt.zero_grad()
            F.cross_entropy(layer(xt), yt, weight=weight).backward()
            opt.step()
        with torch.no_grad():
            pred[fold] = layer(torch.from_numpy(x[fold]).float()).argmax(1).numpy()
    return pred


def macro_f1(p: np.ndarray, t: np.ndarray) -> float:
    scores = []
    for c in np.unique(t):
        tp, fp, fn = ((p == c) & (t == c)).sum(), ((p == c) & (t != c)).sum(), ((p != c) & (t == c)).sum()
        scores.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(scores))


# SonoNet-S cuts: (block widths, input H x W); the first is plane-cls 1.3.0's student
CUTS = (((8, 16, 32, 64, 128), (112, 144)), ((4, 8, 32, 64, 128), (128, 160)), ((4, 4, 24, 48, 128), (144, 176)),
        ((4, 8, 24, 48, 96), (160, 208)))
# SonoNet-LR (compress.nets.sono_lowrank): full width, convolutions factorised to these fractions of their width
RANK_FRACTIONS = (1.0, 0.5, 0.25)


def cut_backbone(sononet: torch.nn.Module, widths: tuple[int, ...], views: np.ndarray
                 ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A frozen SonoNet-S of `widths` cut on `views` (uint8 at its input size); takes SonoNet's x255 input."""
    from compress.nets.sononet_cut import conv_layers, copy_strongest_filters, frames_for_selection
    from research.planes.sononet_s import SonoStudent

    student = SonoStudent(widths)
    copy_strongest_filters(sononet, conv_layers(student), frames_for_selection(views, n=len(views)))
    student.eval()
    return lambda x: student.features(x / 255.0)  # the x255 scale is folded into the cut's first conv


SONONET_S_FRONT = (8, 16)  # SonoNet-S's widths in blocks 1-2 (SonoNet-16: 16, 32)


def front_cut(ranks: tuple[int, ...], n_blocks: int) -> torch.nn.Module:
    """SonoNet-LR whose first `n_blocks` (1 or 2) are unfactorised at SonoNet-S's widths."""
    from torch import nn

    from compress.nets.sono_lowrank import LowRankUnit, SonoLowRank

    model, cin = SonoLowRank(ranks), 1
    for b in range(n_blocks):
        w = SONONET_S_FRONT[b]
        model.features[b] = nn.Sequential(LowRankUnit(cin, w, 0), LowRankUnit(w, w, 0), nn.MaxPool2d(2))
        cin = w
    first = model.features[n_blocks][0]
    model.features[n_blocks][0] = LowRankUnit(cin, first[-2].num_features, first.rank)
    return model


def main() -> None:
    torch.set_num_threads(2)
    data = default_data_dir()
    records = load_records(data, 80)
    dev, _ = split_dev_heldout(records)
    grays = [read_gray(r.path) for r in records]
    y = np.array([r.plane_idx for r in records])
    folds = grouped_folds(records, dev, 5)
    african = np.array([records[i].dataset == "african" for i in dev])
    sononet16 = load_sononet16(data / "peers" / "sononet" / "SonoNet16.npz")
    sononet = sononet16.features
    smallnet = smallnet_backbone(data / "peers" / "sononet" / "SmallNet.npz")
    print(f"linear probe, frozen features, 5-fold grouped CV over {len(dev)} development records")
    print(f"{'backbone':12s} {'input':>8s} {'acc':>6s} {'mF1':>6s} {'African acc':>12s}")
    for name, net, hw in (("SonoNet-16", sononet, (224, 288)), ("SonoNet-16", sononet, (160, 208)),
                          ("SonoNet-16", sononet, (112, 144)), ("SmallNet", smallnet, (224, 288)),
                          ("SmallNet", smallnet, (112, 144))):
        pred = probe(pooled_features(net, grays, hw), y, dev, folds)[dev]
        t = y[dev]
        print(f"{name:12s} {hw[0]}x{hw[1]:<4d} {np.mean(pred == t):6.3f} {macro_f1(pred, t):6.3f} "
              f"{np.mean(pred[african] == t[african]):12.3f}")
    from compress.nets.plane_student import count_macs
    from research.planes.sononet_s import SonoStudent

    pick = np.random.default_rng(0).choice(dev, 256, replace=False)
    print(f"\n{'SonoNet-S cut widths':24s} {'input':>8s} {'MMACs':>6s} {'acc':>6s} {'mF1':>6s} {'African acc':>12s}")
    for widths, hw in CUTS:
        net = cut_backbone(sononet16, widths, np.stack([clean_view(grays[i], hw) for i in pick]))
        pred, t = probe(pooled_features(net, grays, hw), y, dev, folds)[dev], y[dev]
        macs = count_macs(SonoStudent(widths), hw) / 1e6
        print(f"{str(widths):24s} {hw[0]}x{hw[1]:<4d} {macs:6.0f} {np.mean(pred == t):6.3f} {macro_f1(pred, t):6.3f} "
              f"{np.mean(pred[african] == t[african]):12.3f}")
    from compress.nets import sono_lowrank
    from compress.nets.sononet_cut import frames_for_selection

    hw = (112, 144)
    views = np.stack([clean_view(grays[i], hw) for i in pick])
    print(f"\n{'SonoNet-LR rank fraction':24s} {'input':>8s} {'MMACs':>6s} {'acc':>6s} {'mF1':>6s} {'African acc':>12s}")
    for fraction in RANK_FRACTIONS:
        ranks = sono_lowrank.default_ranks(fraction)
        lr = sono_lowrank.from_sononet(sononet16, frames_for_selection(views, n=128), ranks)
        pred, t = probe(pooled_features(lambda x, m=lr: m.features(x / 255.0), grays, hw), y, dev, folds)[dev], y[dev]
        macs = count_macs(lr, hw) / 1e6
        print(f"{fraction:<24g} {hw[0]}x{hw[1]:<4d} {macs:6.0f} {np.mean(pred == t):6.3f} {macro_f1(pred, t):6.3f} "
              f"{np.mean(pred[african] == t[african]):12.3f}")
    print(f"\n{'SonoNet-LR 1/4, front cut':24s} {'input':>8s} {'MMACs':>6s} {'acc':>6s} {'mF1':>6s} {'African acc':>12s}")
    for n_blocks in (1, 2):
        net = sono_lowrank.fill_from_sononet(front_cut(sono_lowrank.default_ranks(), n_blocks), sononet16,
                                             frames_for_selection(views, n=128))
        pred, t = probe(pooled_features(lambda x, m=net: m.features(x / 255.0), grays, hw), y, dev, folds)[dev], y[dev]
        label = "block 1" if n_blocks == 1 else f"blocks 1-{n_blocks}"
        print(f"{label + ' as SonoNet-S':24s} {hw[0]}x{hw[1]:<4d} {count_macs(net, hw) / 1e6:6.0f} "
              f"{np.mean(pred == t):6.3f} {macro_f1(pred, t):6.3f} {np.mean(pred[african] == t[african]):12.3f}")


if __name__ == "__main__":
    main()
