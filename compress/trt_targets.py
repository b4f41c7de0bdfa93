"""What each TensorRT release's ONNX parser accepts, per JetPack that ships it (the targets `onnx_checks` checks).

Sources (onnx/onnx-tensorrt `docs/operators.md` of each release branch, and NVIDIA's JetPack release pages):
- TensorRT 8.2 (JetPack 4.6.x, the last for the original Jetson Nano): "supports operators up to Opset 13"; the
  operator list is the 8.4 matrix (same opset 13), which has no HardSwish and no LayerNormalization row.
- TensorRT 8.5.2 (JetPack 5.1.x: Xavier NX, AGX Xavier, Orin): "up to Opset 17"; LayerNormalization "N".
- TensorRT 8.6.2 (JetPack 6.0): "up to Opset 17"; LayerNormalization added.
- TensorRT 10.3 (JetPack 6.1 / 6.2): "opset 9 to opset 20" (the 10.0 matrix; later 10.x only widened it).
Every release: QuantizeLinear `y_zero_point must be 0`, DequantizeLinear `x_zero_point must be zero`, INT8 only;
and activations are quantized per tensor only (NvInfer.h, IQuantizeLayer: "Per-channel quantization is supported
only for weight inputs. Thus, Activations cannot be quantized per-channel.").
Conservative on purpose: an operator a release gained late is missing here rather than wrongly allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

TRT86_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast Ceil Celu Clip
Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Div Dropout
Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gemm GlobalAveragePool
GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GRU HardSigmoid HardSwish Identity If ImageScaler
InstanceNormalization IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM
LpNormalization LpPool MatMul Max MaxPool Mean Min Mul Neg Not Or Pad ParametricSoftplus Pow PRelu
QuantizeLinear RandomUniform RandomUniformLike Range ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN Round
ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Sigmoid Sign Sin Sinh Size Slice Softmax Softplus
Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh ThresholdedRelu Tile TopK Transpose Unsqueeze
Upsample Where Xor
""".split())
TRT85_OPS = TRT86_OPS - {"LayerNormalization"}
TRT82_OPS = TRT85_OPS - {"HardSwish"}


@dataclass(frozen=True)
class TrtTarget:
    version: str
    jetpack: str
    max_opset: int
    operators: frozenset

    @property
    def label(self) -> str:
        return f"TensorRT {self.version} ({self.jetpack})"


TARGETS = {
    "8.2": TrtTarget("8.2", "JetPack 4.6", 13, TRT82_OPS),
    "8.5": TrtTarget("8.5", "JetPack 5.1", 17, TRT85_OPS),
    "8.6": TrtTarget("8.6", "JetPack 6.0", 17, TRT86_OPS),
    "10.3": TrtTarget("10.3", "JetPack 6.1/6.2", 20, TRT86_OPS),
}
# The releases a shipped bundle must build on: the JetPacks the firmware configs support (docs/device.md).
# 8.2 is known but not supported: JetPack 4.6 ships Python 3.6, which cannot run edge/ (the Nano is unsupported).
SUPPORTED = ("8.5", "8.6", "10.3")


def targets(names: tuple[str, ...] = SUPPORTED) -> list[TrtTarget]:
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        from edge.errors import ConfigError

        raise ConfigError(f"unknown TensorRT target(s) {unknown}; known: {sorted(TARGETS)}")
    return [TARGETS[n] for n in names]
