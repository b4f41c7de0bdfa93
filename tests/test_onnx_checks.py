"""ONNX checks for the TensorRT releases of the supported JetPacks: opset and operators per release, static
shapes, int8-only QDQ with per-tensor activations, output tolerance. Sources: compress/trt_targets.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from compress.onnx_checks import TOLERANCE, check_onnx, compare_outputs
from compress.stages.export import export_onnx
from compress.stages.quantize import quantize_nncf, quantize_ort, to_int8_zero_points
from compress.trt_targets import TRT82_OPS, TRT85_OPS, TRT86_OPS
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
    ({"opset": 18}, ["opset 18 > 17", "TensorRT 8.5 (JetPack 5.1)"]),
    ({"op": "NonZero"}, ["NonZero", "not parsed by TensorRT 8.5"]),
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


def test_opset_limit_follows_each_parser(tmp_path: Path) -> None:
    """onnx-tensorrt docs/operators.md: 8.2 "up to Opset 13", 8.5/8.6 "up to Opset 17", 10.x "opset 9 to 20"."""
    m17 = tiny_graph(tmp_path / "m17.onnx", opset=17)
    assert check_onnx(m17).ok
    assert any("opset 17 > 13" in p and "JetPack 4.6" in p for p in check_onnx(m17, ("8.2",)).problems)
    m19 = tiny_graph(tmp_path / "m19.onnx", opset=19)
    assert check_onnx(m19, ("10.3",)).ok
    assert "TensorRT 8.6 (JetPack 6.0)" in "; ".join(check_onnx(m19).problems)


def test_operator_lists_per_release(tmp_path: Path) -> None:
    assert TRT82_OPS < TRT85_OPS < TRT86_OPS
    m = tiny_graph(tmp_path / "hs.onnx", op="HardSwish")
    assert check_onnx(m, ("8.5", "8.6")).ok
    assert "not parsed by TensorRT 8.2" in "; ".join(check_onnx(m, ("8.2",)).problems)


def qdq_graph(path: Path, scale: np.ndarray, axis: int, on_weight: bool) -> Path:
    """x -> Q -> DQ -> Relu, the Q/DQ pair on the activation x or (on_weight) on a constant weight added to x."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 2, 2])
    inits = [numpy_helper.from_array(scale.astype(np.float32), "s"),
             numpy_helper.from_array(np.zeros(scale.shape, np.int8), "zp")]
    src = "x"
    if on_weight:
        inits.append(numpy_helper.from_array(np.ones((1, 4, 2, 2), np.float32), "w"))
        src = "w"
    nodes = [helper.make_node("QuantizeLinear", [src, "s", "zp"], ["q"], axis=axis, name="q"),
             helper.make_node("DequantizeLinear", ["q", "s", "zp"], ["dq"], axis=axis, name="dq")]
    nodes.append(helper.make_node("Add", ["x", "dq"], ["y"]) if on_weight else helper.make_node("Relu", ["dq"], ["y"]))
    g = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_per_axis_activation_qdq_is_refused_weights_may_be_per_channel(tmp_path: Path) -> None:
    """Issue #26 finding 1: the shipped head-seg 1.3.0 carried axis=1 activation Q/DQ after each Resize, which
    the old checks passed. TensorRT (NvInfer.h, IQuantizeLayer): "Per-channel quantization is supported only
    for weight inputs. Thus, Activations cannot be quantized per-channel."; NVIDIA/TensorRT#1040 (maintainer):
    per-tensor for activations, per-channel for weights."""
    per_axis = check_onnx(qdq_graph(tmp_path / "a.onnx", np.full(4, 0.1), 1, on_weight=False))
    text = "; ".join(per_axis.problems)
    assert "quantises activation 'x' per axis (axis 1, 4 scales)" in text and "per_tensor_activations" in text
    assert check_onnx(qdq_graph(tmp_path / "t.onnx", np.array(0.1), 1, on_weight=False)).ok
    assert check_onnx(qdq_graph(tmp_path / "w.onnx", np.full(4, 0.1), 1, on_weight=True)).ok


class UpDepthwise(nn.Module):
    """The head-seg decoder's pattern: Resize, then a depthwise convolution on the resized activation."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pw = nn.Conv2d(8, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(torch.relu(self.dw(self.up(self.enc(x)))))


def test_nncf_per_tensor_activation_option(tmp_path: Path) -> None:
    """NNCF's default quantises a depthwise convolution's input per channel (what made head-seg 1.3.0
    unbuildable); quantize.per_tensor_activations gives it one scale, and the graph passes the checks."""
    fp32 = export_onnx(UpDepthwise().eval(), (1, 1, 32, 32), tmp_path / "fp32.onnx")
    old = quantize_nncf(fp32, tmp_path / "old.onnx", frames(), [], per_tensor_activations=False)
    to_int8_zero_points(old)
    assert any("per axis" in p for p in check_onnx(old).problems)
    new = quantize_nncf(fp32, tmp_path / "new.onnx", frames(), [])
    to_int8_zero_points(new)
    assert check_onnx(new).ok, check_onnx(new).problems
