"""ONNX checks for TensorRT 8.6: opset, operators, static shapes, int8-only QDQ, output tolerance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from compress.onnx_checks import TOLERANCE, TRT86_OPS, check_onnx, compare_outputs
from compress.stages.export import export_onnx
from compress.stages.quantize import quantize_nncf, quantize_ort, to_int8_zero_points
from edge.errors import ModelError


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 3)).eval()


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(net(), (1, 1, 32, 32), tmp_path_factory.mktemp("onnx") / "fp32.onnx")


def frames(n: int = 16) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((n, 1, 32, 32)).astype(np.float32)


def tiny_graph(path: Path, op: str = "Relu", opset: int = 17, dims: list = [1, 4]) -> Path:  # noqa: B006
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, dims)
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def test_exported_fp32_model_passes(fp32: Path) -> None:
    report = check_onnx(fp32)
    assert report.ok, report.problems
    assert report.opset == 17 and {"Conv", "Gemm"} <= set(report.operators)


@pytest.mark.parametrize("kwargs, words", [
    ({"opset": 18}, ["opset 18 > 17"]),
    ({"op": "NonZero"}, ["NonZero", "not parsed by TensorRT 8.6"]),
    ({"op": "Reciprocal"}, ["Reciprocal"]),
    ({"dims": ["batch", 4]}, ["dynamic shape", "batch"]),
])
def test_each_violation_is_named(tmp_path: Path, kwargs: dict, words: list[str]) -> None:
    report = check_onnx(tiny_graph(tmp_path / "m.onnx", **kwargs))
    assert not report.ok
    text = "; ".join(report.problems)
    for w in words:
        assert w in text
    with pytest.raises(ModelError, match="fails the ONNX checks"):
        report.raise_if_failed()


def test_operator_list_is_a_plausible_trt86_subset() -> None:
    assert {"Conv", "Relu", "Resize", "QuantizeLinear", "DequantizeLinear", "Concat", "Gemm"} <= TRT86_OPS
    assert not {"NonZero", "Mod", "QLinearConv", "ConvInteger", "Unique"} & TRT86_OPS


def test_garbage_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        check_onnx(bad)


def test_nncf_uint8_qdq_is_caught_then_rewritten_to_int8(fp32: Path, tmp_path: Path) -> None:
    q = quantize_nncf(fp32, tmp_path / "q.onnx", frames(), [])
    before = check_onnx(q)
    assert any("uint8 QDQ" in p for p in before.problems), "NNCF 3.4 emits uint8 zero points after ReLU"
    counts = to_int8_zero_points(q)
    assert counts["uint8_unsigned_widened"] > 0
    after = check_onnx(q)
    assert after.ok, after.problems
    from compress.stages.common import ort_predict

    x = frames(8)
    err = compare_outputs(ort_predict(fp32)(x), ort_predict(q)(x), "int8")
    assert err <= TOLERANCE["int8"]


def test_ort_symmetric_qdq_passes_and_excluded_layer_stays_float(fp32: Path, tmp_path: Path) -> None:
    first_conv = next(n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "Conv")
    q = quantize_ort(fp32, tmp_path / "q.onnx", frames(), [first_conv])
    assert check_onnx(q).ok
    model = onnx.load(str(q))
    conv = next(n for n in model.graph.node if n.name == first_conv)
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    assert producers.get(conv.input[1]) != "DequantizeLinear", "excluded layer's weights must stay float"


def test_nonzero_int8_zero_point_is_refused(fp32: Path, tmp_path: Path) -> None:
    q = quantize_ort(fp32, tmp_path / "q.onnx", frames(), [])
    model = onnx.load(str(q))
    zp_name = next(n.input[2] for n in model.graph.node if n.op_type == "QuantizeLinear")
    for init in model.graph.initializer:
        if init.name == zp_name:
            init.CopyFrom(numpy_helper.from_array(np.array(3, dtype=np.int8), zp_name))
    onnx.save(model, str(q))
    assert any("non-zero zero point" in p for p in check_onnx(q).problems)


def test_compare_outputs_tolerance_per_precision() -> None:
    ref = np.array([[1.0, -2.0, 4.0]], np.float32)
    assert compare_outputs(ref, ref + 1e-4, "fp32") < TOLERANCE["fp32"]
    with pytest.raises(ModelError, match="fp32"):
        compare_outputs(ref, ref + 0.1, "fp32")
    assert compare_outputs(ref, ref + 0.5, "int8") == pytest.approx(0.125)
    with pytest.raises(ModelError, match="shape"):
        compare_outputs(ref, ref[:, :2], "fp32")
