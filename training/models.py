"""The two networks of the method (MSWS-Net and Boundary2Patches), layer for layer as
/work/shared/reference/method-spec.md describes them, with the base width as a parameter.

At base width 64 MSWS-Net has 69,184,577 parameters and Boundary2Patches 25,379,329
(asserted in tests/test_models.py).

Both networks end in a sigmoid only when asked (``with_sigmoid=True``): training uses the
probabilities too (the focal Tversky loss works on probabilities), but keeping the flag lets
the export wrap the same module unchanged.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

# Depth of the MSWS-Net encoder: five 2x2 max-pools, six feature levels.
MSWS_POOLINGS = 5


class ConvBNReLU(nn.Sequential):
    """3x3 convolution (padding 1, with bias) -> BatchNorm -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=True),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


class DoubleConv(nn.Sequential):
    """Two ConvBNReLU blocks; the middle width defaults to the output width."""

    def __init__(self, in_ch: int, out_ch: int, mid_ch: int | None = None) -> None:
        mid = out_ch if mid_ch is None else mid_ch
        super().__init__(ConvBNReLU(in_ch, mid), ConvBNReLU(mid, out_ch))


# --------------------------------------------------------------------------------------------
# MSWS-Net
# --------------------------------------------------------------------------------------------


class MswsEncoder(nn.Module):
    """The one encoder whose weights every scale shares: six feature levels."""

    def __init__(self, width: int, in_channels: int = 1) -> None:
        super().__init__()
        w = width
        chans = [w, 2 * w, 4 * w, 8 * w, 16 * w, 16 * w]
        self.inc = DoubleConv(in_channels, chans[0])
        self.downs = nn.ModuleList(
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(chans[i], chans[i + 1]))
            for i in range(MSWS_POOLINGS)
        )
        self.channels = chans

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        feats = [self.inc(x)]
        for down in self.downs:
            feats.append(down(feats[-1]))
        return feats


class ScaleMerge(nn.Module):
    """Feature merging module (FMM) for one level: bilinear upsampling (align_corners=True)
    of the coarser map to the finer map's size, then element-wise addition.

    For n = 2 at 640/320 the coarser map is always exactly half the finer one, so this is the
    paper's "upsample x2 and add". The target size (not a fixed factor 2) is used so that
    n > 2 works where odd sizes appear (an 80 x 80 fourth scale pools to 5 x 5 then 2 x 2).
    """

    def forward(self, fine: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        # Sizes as Python ints: the exported graph then holds a constant Resize (scales 2 for the
        # usual exact halves) instead of a Shape/Gather/Concat chain.
        fh, fw = int(fine.shape[-2]), int(fine.shape[-1])
        ch, cw = int(coarse.shape[-2]), int(coarse.shape[-1])
        if fh == 2 * ch and fw == 2 * cw:
            up = F.interpolate(coarse, scale_factor=2.0, mode="bilinear", align_corners=True)
        else:
            up = F.interpolate(coarse, size=(fh, fw), mode="bilinear", align_corners=True)
        return fine + up


class Up(nn.Module):
    """Decoder step: upsample the deeper map x2 (bilinear, align_corners=True), concatenate
    [skip, upsampled] (skip first), double conv with middle width in/2."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = DoubleConv(in_ch, out_ch, in_ch // 2)

    def forward(self, deep: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(deep)], dim=1))


class MswsNet(nn.Module):
    """Multi-scale weight-sharing network for the LA cavity.

    ``forward(full, half, ...)`` takes ``n_scales`` tensors: the 640 x 640 z-scored slice, its
    2x2-average-pooled 320 x 320 version, and for n > 2 further successive 2x2 average poolings
    (160, 80, ...): the paper's Table 1 input sizes (1.56, 1.95, 2.05, 2.10 MB) are exactly
    640^2, +320^2, +160^2, +80^2 float32 pixels. ``pyramid(x, n)`` builds them.

    FMM for n > 2: coarse-to-fine cascade per level. Starting from the coarsest scale, each
    scale's level-l map is upsampled to the next finer scale's level-l map and added, until the
    full-scale map is reached; the decoder then sees one merged map per level. For n = 2 this
    is exactly the paper's module; n = 1 is a plain UNet with the same stages.

    Output: logits (N, 1, H, W); probabilities if ``with_sigmoid``.
    """

    def __init__(
        self, width: int = 64, n_scales: int = 2, in_channels: int = 1, with_sigmoid: bool = False
    ) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"MSWS-Net width must be >= 1, got {width}")
        if n_scales < 1:
            raise ValueError(f"MSWS-Net needs at least one encoder scale, got {n_scales}")
        self.width = width
        self.n_scales = n_scales
        self.with_sigmoid = with_sigmoid
        self.encoder = MswsEncoder(width, in_channels)
        self.merge = ScaleMerge()
        w = width
        self.ups = nn.ModuleList(
            [
                Up(32 * w, 8 * w),
                Up(16 * w, 4 * w),
                Up(8 * w, 2 * w),
                Up(4 * w, w),
                Up(2 * w, w),
            ]
        )
        self.head = nn.Conv2d(w, 1, kernel_size=1)

    def forward(self, *scales: torch.Tensor) -> torch.Tensor:
        if len(scales) != self.n_scales:
            raise ValueError(
                f"MSWS-Net built for {self.n_scales} scale(s) got {len(scales)} input tensor(s)"
            )
        full = scales[0]
        h, w = full.shape[-2], full.shape[-1]
        step = 2**MSWS_POOLINGS
        # Python ints here (shape checks are skipped while tracing for export: sizes are fixed).
        if not torch.jit.is_tracing() and (h % step or w % step):
            raise ValueError(
                f"MSWS-Net full-scale input must be a multiple of {step} in both axes, got {h} x {w}"
            )
        least = step << (self.n_scales - 1)
        if not torch.jit.is_tracing() and (h < least or w < least):
            raise ValueError(
                f"MSWS-Net with {self.n_scales} scales needs a full-scale input of at least {least} x {least} "
                f"(the coarsest scale is pooled {MSWS_POOLINGS} times), got {h} x {w}"
            )
        per_scale = [self.encoder(s) for s in scales]
        merged: List[torch.Tensor] = []
        for level in range(MSWS_POOLINGS + 1):
            acc = per_scale[-1][level]
            for s in range(self.n_scales - 2, -1, -1):
                acc = self.merge(per_scale[s][level], acc)
            merged.append(acc)
        x = merged[-1]
        for i, up in enumerate(self.ups):
            x = up(x, merged[MSWS_POOLINGS - 1 - i])
        x = self.head(x)
        return torch.sigmoid(x) if self.with_sigmoid else x


def half_scale(x: torch.Tensor) -> torch.Tensor:
    """The product's definition of the half-scale input: 2 x 2 average pooling."""
    return F.avg_pool2d(x, kernel_size=2, stride=2)


def pyramid(full: torch.Tensor, n_scales: int) -> List[torch.Tensor]:
    """[full, full/2, full/4, ...] by successive 2 x 2 average pooling (n_scales tensors)."""
    out = [full]
    for _ in range(n_scales - 1):
        out.append(half_scale(out[-1]))
    return out


# --------------------------------------------------------------------------------------------
# Boundary2Patches modified UNet
# --------------------------------------------------------------------------------------------


class StridedStage(nn.Sequential):
    """Encoder down-step without pooling: 3x3 conv stride 2 (in->out) + BN + ReLU, then two
    3x3 conv + BN + ReLU (out->out)."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            ConvBNReLU(in_ch, out_ch, stride=2),
            ConvBNReLU(out_ch, out_ch),
            ConvBNReLU(out_ch, out_ch),
        )


class UpTransposed(nn.Module):
    """2 x 2 transposed convolution, stride 2 (ch -> ch), with bias, then ReLU."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.deconv(x))


class Boundary2PatchesNet(nn.Module):
    """Scar network on 3 x 64 x 64 boundary patches -> 1 x 64 x 64.

    Channels in: (0) z-scored patch, (1) histogram scar-probability map, (2) max(z, 0).
    Output: logits; probabilities if ``with_sigmoid``.
    """

    def __init__(
        self, width: int = 64, in_channels: int = 3, dropout: float = 0.1, with_sigmoid: bool = False
    ) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"Boundary2Patches width must be >= 1, got {width}")
        w = width
        self.width = width
        self.with_sigmoid = with_sigmoid
        self.enc1 = DoubleConv(in_channels, w)  # 64 x 64
        self.enc2 = StridedStage(w, 2 * w)  # 32 x 32
        self.enc3 = StridedStage(2 * w, 4 * w)  # 16 x 16
        self.enc4 = DoubleConv(4 * w, 8 * w)  # 16 x 16
        self.enc5 = DoubleConv(8 * w, 8 * w)  # 16 x 16, deepest
        self.dropout = nn.Dropout(dropout)
        self.dec5 = DoubleConv(8 * w, 8 * w)
        self.dec4 = DoubleConv(16 * w, 8 * w)
        self.dec3 = DoubleConv(12 * w, 4 * w)
        self.up3 = UpTransposed(4 * w)
        self.dec2 = DoubleConv(6 * w, 2 * w)
        self.up2 = UpTransposed(2 * w)
        self.dec1 = DoubleConv(3 * w, w)
        self.head = nn.Conv2d(w, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2], x.shape[-1]
        if not torch.jit.is_tracing() and (h % 4 or w % 4):
            raise ValueError(f"Boundary2Patches input must be a multiple of 4 in both axes, got {h} x {w}")
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        e4 = self.enc4(e3)
        e5 = self.dropout(self.enc5(e4))
        d = torch.cat([self.dec5(e5), e4], dim=1)
        d = torch.cat([self.dec4(d), e3], dim=1)
        d = torch.cat([self.up3(self.dec3(d)), e2], dim=1)
        d = torch.cat([self.up2(self.dec2(d)), e1], dim=1)
        d = self.head(self.dec1(d))
        return torch.sigmoid(d) if self.with_sigmoid else d


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def build_model(kind: str, width: int, n_scales: int = 2, with_sigmoid: bool = False) -> nn.Module:
    """kind 'la' -> MswsNet, 'scar' -> Boundary2PatchesNet."""
    if kind == "la":
        return MswsNet(width=width, n_scales=n_scales, with_sigmoid=with_sigmoid)
    if kind == "scar":
        return Boundary2PatchesNet(width=width, with_sigmoid=with_sigmoid)
    raise ValueError(f"unknown model kind {kind!r}: expected 'la' or 'scar'")
