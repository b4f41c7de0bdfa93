"""Head segmentation networks (written here, no torchvision/timm): one input channel, one logit channel.

- teacher: a U-Net (two 3x3 conv + BN + ReLU per level, 4 down-samplings, bilinear up-sampling + skips).
- student: a depthwise-separable encoder-decoder (MobileNet-like blocks, light decoder with skips),
  about 0.1-0.3 M parameters, built to prune and quantise cleanly (Conv-BN-ReLU only, no exotic ops).
Both take (N, 1, H, W) with H, W divisible by 16 and return logits (N, 1, H, W).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from compress.nets.families import Family, register_family


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad, dilation=dilation, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(conv_bn(cin, cout), conv_bn(cout, cout))


class UNet(nn.Module):
    """Teacher: classic U-Net with `base` channels at full resolution."""

    def __init__(self, base: int = 16, depth: int = 4) -> None:
        super().__init__()
        chans = [base * 2 ** i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(1, chans[0])] +
                                  [DoubleConv(chans[i], chans[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([DoubleConv(chans[i + 1] + chans[i], chans[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(chans[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            s = skips.pop()
            x = F.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, s], 1))
        return self.head(x)


class DSBlock(nn.Module):
    """Depthwise 3x3 (optionally strided / dilated) + pointwise 1x1; residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, stride, groups=cin, dilation=dilation)
        self.pw = conv_bn(cin, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pw(self.dw(x))
        return x + y if self.residual else y


def _ch(c: int, mult: float) -> int:
    return max(4, int(round(c * mult / 4)) * 4)


class SegStudent(nn.Module):
    """Student: stride-2 stem, three DS stages down to 1/16, context block, skip decoder to 1/2, bilinear x2."""

    def __init__(self, width_mult: float = 1.0) -> None:
        super().__init__()
        c1, c2, c3, c4 = (_ch(c, width_mult) for c in (16, 32, 64, 128))
        self.stem = conv_bn(1, c1, 3, 2)                                        # 1/2
        self.enc2 = nn.Sequential(DSBlock(c1, c2, 2), DSBlock(c2, c2))          # 1/4
        self.enc3 = nn.Sequential(DSBlock(c2, c3, 2), DSBlock(c3, c3))          # 1/8
        self.enc4 = nn.Sequential(DSBlock(c3, c4, 2), DSBlock(c4, c4, dilation=2),
                                  DSBlock(c4, c4, dilation=4))                  # 1/16, wide context
        self.dec3 = DSBlock(c4 + c3, c3)
        self.dec2 = DSBlock(c3 + c2, c2)
        self.dec1 = DSBlock(c2 + c1, c1)
        self.head = nn.Conv2d(c1, 1, 1)

    @staticmethod
    def _up_cat(x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        s1 = self.stem(x)
        s2 = self.enc2(s1)
        s3 = self.enc3(s2)
        x = self.enc4(s3)
        x = self.dec3(self._up_cat(x, s3))
        x = self.dec2(self._up_cat(x, s2))
        x = self.dec1(self._up_cat(x, s1))
        return F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)


def build_teacher(base: int = 16) -> UNet:
    return UNet(base=base)


def build_student(width_mult: float = 1.0) -> SegStudent:
    if width_mult <= 0:
        raise ValueError(f"width_mult must be > 0, got {width_mult}")
    return SegStudent(width_mult=width_mult)


register_family(Family("ds-seg", "biometry", build_student,
                       "depthwise-separable encoder-decoder trained from scratch (head-seg <= 1.2.0)"))
register_family(Family("unet", "biometry", lambda w: UNet(base=max(4, round(16 * w))),
                       "U-Net, 16 x width_mult channels at full resolution (the 1.0-1.2 teacher: width 0.75)"))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, int, int, int]) -> int:
    """Multiply-accumulates of all Conv2d layers for one forward pass of `input_shape`."""
    total = 0

    def hook(mod: nn.Conv2d, _inp: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
        total += int(out.numel() // out.shape[0]) * k

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(torch.zeros(input_shape))
    for h in handles:
        h.remove()
    return total
