"""Model manifests: the contract that travels with every shipped model file.

A model directory holds `manifest.json`, the model file(s) it names, and `MODEL_CARD.md`.
The runtime reads preprocessing and class names from here and never repeats them in code.

manifest.json (format "fetal-edge-manifest/1"):
{
  "format": "fetal-edge-manifest/1",
  "name": "head-seg-student", "version": "1.0.0", "task": "biometry" | "planes",
  "model_file": "model.onnx",
  "files": {"model.onnx": {"sha256": "...", "bytes": 123}},
  "precision": "fp32" | "fp16" | "int8",          # of model_file
  "variants": {"int8": "model.onnx", "fp32": "model_fp32.onnx"},   # optional: precision -> graph file
  "opset": 17,
  "input": {"name": "input", "shape": [1, 1, H, W], "dtype": "float32"},
  "output": {"name": "logits", "kind": "segmentation_logits" | "class_logits",
             "class_names": [...]},
  "preprocessing": {"size": [H, W], "resize": "stretch" | "letterbox" | "center_crop",
                    "interpolation": "area" | "linear",
                    "normalise": {"mode": "per_image", "scale": 1.0}
                               | {"mode": "fixed", "mean": 0.5, "std": 0.25}},
  "calibration": null | {"sha256": "...", "n_frames": 300, "source": "..."},
  "provenance": {"training_data": "...", "split": "...", "source_checkpoint": "...", "git_commit": "..."},
  "metrics": {"...": number}
}

`variants` names the other graphs a bundle ships (a compressed bundle: the INT8 QDQ graph as model_file and
its float graph); every variant file must be listed under `files`, so it is verified like model_file.
`Manifest.variant(precision)` is the manifest with that graph as the model file: its `ref` carries the
sha256 of the graph that actually runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edge.errors import ModelError

MANIFEST_FORMAT = "fetal-edge-manifest/1"
MANIFEST_NAME = "manifest.json"
RESIZE_MODES = ("stretch", "letterbox", "center_crop")
INTERPOLATIONS = ("area", "linear")
PRECISIONS = ("fp32", "fp16", "int8")


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Normalisation:
    mode: str  # "per_image": (x - mean(x)) / std(x) * scale ; "fixed": (x/255 - mean) / std
    scale: float = 1.0
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class PreprocessSpec:
    height: int
    width: int
    resize: str
    interpolation: str
    normalise: Normalisation


@dataclass(frozen=True)
class ModelRef:
    """What every number a clinician sees carries: which model made it."""

    name: str
    version: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True)
class Manifest:
    directory: Path
    name: str
    version: str
    task: str
    model_file: str
    files: dict[str, dict[str, Any]]
    precision: str
    input_name: str
    input_shape: tuple[int, ...]
    output_name: str
    output_kind: str
    class_names: tuple[str, ...]
    preprocessing: PreprocessSpec
    raw: dict[str, Any] = field(repr=False, compare=False)
    variants: dict[str, str] = field(default_factory=dict)  # precision -> graph file (model_file's included)

    @property
    def model_path(self) -> Path:
        return self.directory / self.model_file

    @property
    def model_sha256(self) -> str:
        return str(self.files[self.model_file]["sha256"])

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.name, self.version, self.model_sha256)

    def variant(self, precision: str | None) -> Manifest:
        """This manifest with the `precision` graph as its model file (None: the bundle's model_file).
        ModelError naming the graphs the bundle has when it ships no such variant. "auto": the float graph
        when the bundle has one (faster than INT8 QDQ on onnxruntime CPUs), else the model_file."""
        if precision == "auto":
            precision = "fp32" if "fp32" in self.variants else None
        if precision is None or precision == self.precision:
            return self
        if precision not in self.variants:
            raise ModelError(
                f"model bundle {self.name!r} ({self.directory}) has no {precision} graph (its variants: "
                f"{', '.join(sorted(self.variants))}); set backend.precision to one of those, or install a "
                f"bundle whose manifest lists variants.{precision}"
            )
        return replace(self, model_file=self.variants[precision], precision=precision)

    def verify(self) -> None:
        """Check every listed file's size and sha256; raise ModelError naming the bad file."""
        for fname, meta in self.files.items():
            path = self.directory / fname
            if not path.is_file():
                raise ModelError(f"model file {path} is missing; reinstall the model bundle")
            size = path.stat().st_size
            if "bytes" in meta and size != int(meta["bytes"]):
                raise ModelError(
                    f"model file {path} is {size} bytes but the manifest says {meta['bytes']}: "
                    "the file is truncated or altered; reinstall the model bundle"
                )
            digest = sha256_of(path)
            if digest != meta["sha256"]:
                raise ModelError(
                    f"model file {path} has sha256 {digest[:12]}... but the manifest says "
                    f"{str(meta['sha256'])[:12]}...: the file is altered or corrupt; reinstall the model bundle"
                )


def _require(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise ModelError(f"manifest {where} lacks required key {key!r}")
    return d[key]


def parse_preprocessing(d: dict[str, Any]) -> PreprocessSpec:
    size = _require(d, "size", "preprocessing")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise ModelError(f"manifest preprocessing.size must be [height, width] positive ints, got {size!r}")
    resize = d.get("resize", "stretch")
    if resize not in RESIZE_MODES:
        raise ModelError(f"manifest preprocessing.resize {resize!r} is not one of {RESIZE_MODES}")
    interp = d.get("interpolation", "area")
    if interp not in INTERPOLATIONS:
        raise ModelError(f"manifest preprocessing.interpolation {interp!r} is not one of {INTERPOLATIONS}")
    n = _require(d, "normalise", "preprocessing")
    mode = n.get("mode")
    if mode == "per_image":
        norm = Normalisation("per_image", scale=float(n.get("scale", 1.0)))
    elif mode == "fixed":
        std = float(_require(n, "std", "preprocessing.normalise"))
        if std <= 0:
            raise ModelError(f"manifest preprocessing.normalise.std must be > 0, got {std}")
        norm = Normalisation("fixed", mean=float(_require(n, "mean", "preprocessing.normalise")), std=std)
    else:
        raise ModelError(f"manifest preprocessing.normalise.mode {mode!r} is not 'per_image' or 'fixed'")
    return PreprocessSpec(size[0], size[1], resize, interp, norm)


def parse_variants(raw: dict[str, Any], directory: Path, precision: str) -> dict[str, str]:
    """precision -> graph file, model_file under its own precision; each file must be listed under 'files'."""
    declared = raw.get("variants") or {}
    if not isinstance(declared, dict):
        raise ModelError(f"{directory}: manifest variants must map precision -> file, got {declared!r}")
    variants = {**declared, precision: declared.get(precision, raw["model_file"])}
    for p, fname in variants.items():
        if p not in PRECISIONS:
            raise ModelError(f"{directory}: manifest variants.{p} is not one of {PRECISIONS}")
        if fname not in raw["files"]:
            raise ModelError(f"{directory}: manifest variants.{p} = {fname!r} is not listed under 'files', so its "
                             "checksum cannot be verified; reinstall the model bundle")
    if variants[precision] != raw["model_file"]:
        raise ModelError(f"{directory}: manifest variants.{precision} = {variants[precision]!r} contradicts "
                         f"model_file {raw['model_file']!r} (precision {precision}); reinstall the model bundle")
    return variants


def parse_manifest(raw: dict[str, Any], directory: Path) -> Manifest:
    if raw.get("format") != MANIFEST_FORMAT:
        raise ModelError(f"{directory}: manifest format {raw.get('format')!r}, expected {MANIFEST_FORMAT!r}")
    files = _require(raw, "files", "")
    model_file = _require(raw, "model_file", "")
    if model_file not in files:
        raise ModelError(f"{directory}: model_file {model_file!r} is not listed under 'files'")
    precision = raw.get("precision", "fp32")
    if precision not in PRECISIONS:
        raise ModelError(f"{directory}: precision {precision!r} is not one of {PRECISIONS}")
    inp = _require(raw, "input", "")
    out = _require(raw, "output", "")
    return Manifest(
        directory=directory,
        name=str(_require(raw, "name", "")),
        version=str(_require(raw, "version", "")),
        task=str(_require(raw, "task", "")),
        model_file=model_file,
        files=files,
        precision=precision,
        input_name=str(_require(inp, "name", "input")),
        input_shape=tuple(int(v) for v in _require(inp, "shape", "input")),
        output_name=str(_require(out, "name", "output")),
        output_kind=str(_require(out, "kind", "output")),
        class_names=tuple(out.get("class_names", [])),
        preprocessing=parse_preprocessing(_require(raw, "preprocessing", "")),
        raw=raw,
        variants=parse_variants(raw, directory, precision),
    )


def load_manifest(directory: str | Path, verify: bool = True) -> Manifest:
    """Read `directory/manifest.json`; with verify, refuse altered or truncated files."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"no {MANIFEST_NAME} in {directory}; point to a model bundle directory")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); reinstall the model bundle") from None
    if not isinstance(raw, dict):
        raise ModelError(f"{path} must hold a JSON object")
    manifest = parse_manifest(raw, directory)
    if verify:
        manifest.verify()
    return manifest


def file_entry(path: Path) -> dict[str, Any]:
    """The `files` entry for one file: its sha256 and size (used when writing manifests)."""
    return {"sha256": sha256_of(path), "bytes": path.stat().st_size}
