"""Golden frames: small public frames committed with what the shipped models answer on them.

    python tests/golden/make_expected.py            # after shipping a model: expected.json from edge/models (FP32)
    python tests/golden/make_expected.py --select   # once: pick the frames from the shared data, write the PNGs

`--select` takes held-out frames only (HC18 test subjects; FETAL_PLANES_DB and African-cohort patients the plane
split holds out), shrinks each to about 320 px wide (the HC18 pixel size scaled to match), and keeps a frame
only where the shipped FP32 and INT8 graphs agree clearly (same best plane with a margin; HC within 0.25 mm),
so that the test checks the models, not a coin toss. tests/test_golden.py then holds both graphs of the
installed bundles to expected.json within clinical tolerances.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from contextlib import redirect_stdout
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

WIDTH = 320
MODELS = ("plane-cls", "head-seg")
PLANES_WANTED = {"fetal_planes_db": ("Fetal brain", "Fetal abdomen", "Maternal cervix"),
                 "african": ("Fetal femur", "Fetal thorax", "Fetal abdomen")}


def plane_answer(path: Path, precision: str) -> dict:
    """The plane classifier on one file: its answer (plane or unknown), its best plane and that plane's margin."""
    from edge.imageio import read_color
    from edge.planes.classifier import PlaneClassifier

    pred = PlaneClassifier("plane-cls", threads=1, precision=precision).classify(read_color(path))
    ranked = sorted(pred.probs.items(), key=lambda kv: -kv[1])
    return {"plane": pred.plane, "best": ranked[0][0] if ranked else None,
            "margin": round(ranked[0][1] - ranked[1][1], 4) if len(ranked) > 1 else 0.0}


def head_answer(path: Path, pixel_mm: float, precision: str) -> dict:
    """`fetal-edge measure --json` on one file (the user's path through the device code)."""
    from edge.cli import main

    buf = io.StringIO()
    with redirect_stdout(buf):
        main(["measure", str(path), "--pixel-size", str(pixel_mm), "--precision", precision, "--threads", "1",
              "--json"])
    out = json.loads(buf.getvalue())
    return {k: out[k] for k in ("status", "hc_mm", "bpd_mm", "ofd_mm", "ga_days")}


def answers(frame: dict, precision: str) -> dict:
    path = HERE / frame["file"]
    out = plane_answer(path, precision)
    if frame.get("pixel_mm"):
        out.update(head_answer(path, frame["pixel_mm"], precision))
    return out


def installed_models() -> dict:
    from edge.manifest import load_manifest
    from edge.models import shipped_model_dir

    out = {}
    for name in MODELS:
        m = load_manifest(shipped_model_dir(name)).variant("fp32")
        out[name] = {"version": m.version, "fp32_sha256": m.model_sha256}
    return out


def write_expected() -> Path:
    frames = json.loads((HERE / "sources.json").read_text())["frames"]
    expected = {"generated_by": "python tests/golden/make_expected.py (the installed bundles' FP32 graphs)",
                "models": installed_models(),
                "frames": [{**f, **answers(f, "fp32")} for f in frames]}
    path = HERE / "expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    return path


def _shrink(gray: np.ndarray) -> tuple[np.ndarray, float]:
    scale = WIDTH / gray.shape[1]
    return cv2.resize(gray, (WIDTH, round(gray.shape[0] * scale)), interpolation=cv2.INTER_AREA), scale


def _stable(frame: dict) -> bool:
    a, b = answers(frame, "fp32"), answers(frame, "int8")
    if a["best"] != b["best"] or a["margin"] < 0.2 or a["plane"] != b["plane"]:
        return False
    if frame.get("pixel_mm"):
        return a["status"] == b["status"] == "measured" and abs(a["hc_mm"] - b["hc_mm"]) <= 0.25
    return True


def _slots(data: Path):  # type: ignore[no-untyped-def]
    """One list of candidates per golden frame wanted, in a fixed order: HC18 test heads near four quantiles
    of the reference HC, then one held-out frame of each wanted plane per plane dataset. A candidate is
    (dataset, source file, gray frame, pixel size or None, credit)."""
    from compress.data.hc18 import load_split
    from compress.data.planes import load_records, split_dev_heldout
    from edge.imageio import read_gray

    heads = sorted(load_split(data / "hc18", "test"), key=lambda r: r.hc_mm)
    hc18 = "HC18 (van den Heuvel et al. 2018), Zenodo 1327317"
    for q in (0.1, 0.4, 0.7, 0.95):
        k = int(q * (len(heads) - 1))
        near = sorted(range(len(heads)), key=lambda i: abs(i - k))[:10]
        yield [("hc18", heads[i].image_path, heads[i].image(), heads[i].pixel_mm, hc18) for i in near]
    records = load_records(data, 0)
    _, held = split_dev_heldout(records)
    credit = {"fetal_planes_db": "FETAL_PLANES_DB (Burgos-Artizzu et al. 2020), Zenodo 3904280",
              "african": "African fetal planes (Sendra-Balcells et al. 2023), Zenodo 7540448"}
    for ds, planes in PLANES_WANTED.items():
        for plane in planes:
            yield [(ds, records[i].path, read_gray(records[i].path), None, credit[ds])
                   for i in held if records[i].dataset == ds and records[i].plane == plane][:10]


def select(data: Path) -> None:
    """Write the PNGs and sources.json: in each slot, the first candidate both graphs answer alike."""
    chosen = []
    for slot in _slots(data):
        for ds, src, gray, pixel_mm, credit in slot:
            small, scale = _shrink(gray)
            name = f"{ds}_{src.stem}.png"
            cv2.imwrite(str(HERE / name), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            frame = {"file": name, "source": f"{credit}: {src.name}", "licence": "CC BY 4.0",
                     "shrunk_from": [int(gray.shape[1]), int(gray.shape[0])]}
            if pixel_mm:
                frame["pixel_mm"] = round(pixel_mm / scale, 6)
            if (HERE / name).stat().st_size <= 60_000 and _stable(frame):
                chosen.append(frame)
                break
            (HERE / name).unlink()
    (HERE / "sources.json").write_text(json.dumps({"frames": chosen}, indent=1) + "\n", encoding="utf-8")
    print(f"{len(chosen)} frames")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--select", action="store_true", help="pick the frames from the shared data (once)")
    ap.add_argument("--data", default=None, help="shared data folder (default $FETAL_EDGE_DATA or ../shared/data)")
    args = ap.parse_args()
    if args.select:
        from compress.paths import require_data_dir

        select(require_data_dir(args.data))
    print(f"wrote {write_expected()}")


if __name__ == "__main__":
    main()
