"""Does averaging the plane student's logits over the frame and its left-right mirror help? Out of fold.

The student's training already mirrors views left-right (anatomically fine for these planes), so the mirror
is in its training distribution; test-time averaging costs a second forward pass per frame. Measured on the
5-fold patient-grouped CV of the development set with the plane-cls 1.3.0 student recipe (SonoNet-S,
8-min students), which is how every plane recipe is ranked (docs/planes.md); the held-out patients are
never touched.

    python -m research.planes.flip_tta --fold 0    # one fold per core (each ~8 min + set-up)
    python -m research.planes.flip_tta             # trains what is missing, prints the table
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

import research.planes.sononet_s  # noqa: F401 (registers sononet-s, the family this study used)
from compress.data.planes import grouped_folds
from compress.paths import require_data_dir
from compress.planes.crossval import clean_views, train_fold_models
from compress.planes.distill import DistillConfig, student_logits
from compress.planes.evaluate import as_planes, classification_metrics, softmax
from compress.planes.workflow import prepare

FOLDS = 5


def fold_logits(data, k: int, folds: list[np.ndarray], cfg: DistillConfig, out: Path) -> dict[str, np.ndarray]:
    path = out / f"flip_tta_k{FOLDS}_m{cfg.max_minutes:g}_fold{k}.npz"
    if path.is_file():
        with np.load(path) as z:
            return {n: z[n] for n in z.files}
    val = folds[k]
    train = np.array([i for i in data.dev if i not in set(int(v) for v in val)])
    _, student = train_fold_models(data.records, data.cache, train, cfg, seed=k, sononet_npz=data.sononet_npz)
    images = data.cache.images[clean_views(data.cache, np.asarray(val))]
    result = {"record": np.asarray(val), "plain": student_logits(student, images),
              "mirror": student_logits(student, np.ascontiguousarray(images[:, :, ::-1]))}
    np.savez(path, **result)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/planes"))
    p.add_argument("--fold", type=int, default=None)
    p.add_argument("--max-minutes", type=float, default=8.0, help="time budget of each fold's student (1.3.0: 8)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    torch.set_num_threads(1)
    data = prepare(require_data_dir(args.data), args.out, 40, 80)
    folds = grouped_folds(data.records, data.dev, FOLDS)
    cfg = DistillConfig(epochs=12, max_minutes=args.max_minutes, arch="sononet-s", lr=1e-3)
    parts = [fold_logits(data, k, folds, cfg, args.out) for k in ([args.fold] if args.fold is not None else range(FOLDS))]
    if args.fold is not None:
        return
    rec = np.concatenate([q["record"] for q in parts])
    y = np.array([data.records[i].plane_idx for i in rec])
    african = np.array([data.records[i].dataset == "african" for i in rec])
    plain = np.concatenate([q["plain"] for q in parts])
    mirror = np.concatenate([q["mirror"] for q in parts])
    print(f"| student logits (5-fold CV, {len(rec)} dev images) | macro-F1 | accuracy | African part macro-F1 |")
    print("|---|---:|---:|---:|")
    for name, z in (("frame", plain), ("mirror only", mirror), ("mean of frame and mirror", (plain + mirror) / 2)):
        probs = as_planes(softmax(z))
        m, a = classification_metrics(y, probs), classification_metrics(y[african], probs[african])
        print(f"| {name} | {m['macro_f1']:.3f} | {m['accuracy']:.3f} | {a['macro_f1']:.3f} |")
    changed = (plain.argmax(1) != ((plain + mirror) / 2).argmax(1)).sum()
    print(f"images whose answer the averaging changes: {changed}")


if __name__ == "__main__":
    main()
