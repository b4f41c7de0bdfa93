"""Tiny model bundles (two 4x4 graphs and a manifest) for the engine tests."""

from __future__ import annotations

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from edge.manifest import MANIFEST_FORMAT, file_entry


def onnx_file(path: Path, op: str) -> None:
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, 4, 4])
    g = helper.make_graph([helper.make_node(op, ["input"], ["logits"])], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def make_bundle(root: Path, name: str, with_fp32: bool = True) -> Path:
    d = root / name
    d.mkdir(parents=True)
    onnx_file(d / "model.onnx", "Relu")
    variants = {"int8": "model.onnx"}
    if with_fp32:
        onnx_file(d / "model_fp32.onnx", "Sigmoid")
        variants["fp32"] = "model_fp32.onnx"
    files = {p.name: file_entry(p) for p in d.iterdir()}
    manifest = {"format": MANIFEST_FORMAT, "name": name, "version": "1.0.0", "task": "planes",
                "model_file": "model.onnx", "files": files, "precision": "int8", "variants": variants,
                "input": {"name": "input", "shape": [1, 1, 4, 4]}, "output": {"name": "logits", "kind": "class_logits"},
                "preprocessing": {"size": [4, 4], "normalise": {"mode": "per_image"}}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d
