"""Augmentation for a real scanner population, applied batch-wise on the training device.

The shards hold the product's preprocessed tensors (per-slice z-score, 640 x 640 pad/crop), so
intensity changes are made in a way the preprocessing would not undo, and the LA half scale is
recomputed afterwards (2 x 2 average pooling, the product's definition) instead of being
augmented on its own.

LA slices (N, 1, H, W):
  1. intensity, inside the content box (rows/columns that are not the product's zero padding):
     map to [0, 1], gamma (log-uniform 0.7..1.5), smooth multiplicative bias field (a random
     4 x 4 log-field, bicubically upsampled, up to +-30 %), Rician-like noise (magnitude of the
     signal plus complex Gaussian noise, sigma up to 3 % of the range), then back to the slice's
     ORIGINAL mean and standard deviation over that box: the input stays what the product's
     z-score would give (exactly so for padded slices, whose box is the whole original slice);
  2. small affine, image bilinear and label nearest-by-threshold, zeros outside: rotation
     +-10 degrees, isotropic scale 0.9..1.1, translation +-5 % of the size. No flips by default
     (the left atrium's side is anatomy, not acquisition).
Scar patches (N, 3, h, w), channels (z, histogram scar probability, max(z, 0)):
  1. channel 0: z' = a z + b (a 0.85..1.15, b +-0.15: slice statistics vary with the field of
     view), a smooth bias (+-10 %), Gaussian noise (sigma up to 0.05); channel 2 recomputed as
     max(z', 0); channel 1 (an empirical CDF, a rank transform) is unchanged by the monotone
     part and left as is;
  2. flips and 90-degree rotations (a boundary patch has no preferred orientation along the
     contour) plus a small rotation/scale, identical for the three channels and the label.

Augmentation parameters come from the CPU generator ``g``; pixel noise is drawn on the device
from torch's global generator (seeded by the training command), to keep it off the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class LaAugment:
    p_intensity: float = 0.8
    gamma_range: tuple = (0.7, 1.5)
    bias_amplitude: float = 0.3
    noise_max: float = 0.03
    p_affine: float = 0.8
    max_rotation_deg: float = 10.0
    scale_range: tuple = (0.9, 1.1)
    max_translate: float = 0.05
    p_flip: float = 0.0


@dataclass
class ScarAugment:
    p_intensity: float = 0.8
    scale_range: tuple = (0.85, 1.15)
    max_shift: float = 0.15
    bias_amplitude: float = 0.1
    noise_max: float = 0.05
    p_affine: float = 0.5
    max_rotation_deg: float = 10.0
    affine_scale_range: tuple = (0.9, 1.1)


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=g) * (hi - lo) + lo).to(device)


def _bias_field(n: int, h: int, w: int, amplitude: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """exp of a smooth random field in [-amplitude, amplitude]-ish, shape (n, 1, h, w)."""
    coarse = (torch.rand(n, 1, 4, 4, generator=g) * 2 - 1) * amplitude
    field = F.interpolate(coarse.to(device), size=(h, w), mode="bicubic", align_corners=True)
    return torch.exp(field)


def _content_mask(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) bool: the box spanned by rows and columns that are not entirely 0.0 (the
    preprocessing's zero padding)."""
    nz = x != 0
    rows = nz.any(dim=3, keepdim=True)  # N,1,H,1
    cols = nz.any(dim=2, keepdim=True)  # N,1,1,W
    return rows & cols


def _affine(images: torch.Tensor, labels: torch.Tensor, rot_deg: torch.Tensor, scale: torch.Tensor,
            tx: torch.Tensor, ty: torch.Tensor, flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = images.shape[0]
    theta_r = rot_deg * math.pi / 180.0
    cos, sin = torch.cos(theta_r) / scale, torch.sin(theta_r) / scale
    sx = torch.where(flip, -torch.ones_like(cos), torch.ones_like(cos))
    mat = torch.zeros(n, 2, 3, device=images.device, dtype=torch.float32)
    mat[:, 0, 0] = cos * sx
    mat[:, 0, 1] = -sin
    mat[:, 0, 2] = tx
    mat[:, 1, 0] = sin * sx
    mat[:, 1, 1] = cos
    mat[:, 1, 2] = ty
    grid = F.affine_grid(mat, list(images.shape), align_corners=False)
    out_img = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out_lab = F.grid_sample(labels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out_img, (out_lab >= 0.5).to(labels.dtype)


def augment_la(full: torch.Tensor, label: torch.Tensor, g: torch.Generator,
               cfg: LaAugment = LaAugment()) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch of full-scale LA slices and their labels. Returns new tensors."""
    n, _, h, w = full.shape
    dev = full.device
    x = full.float()
    box = _content_mask(x)
    cnt = box.sum(dim=(1, 2, 3), keepdim=True).clamp(min=1)
    mean0 = (x * box).sum(dim=(1, 2, 3), keepdim=True) / cnt
    std0 = (((x - mean0) * box) ** 2).sum(dim=(1, 2, 3), keepdim=True).div(cnt).sqrt()

    do_int = (torch.rand(n, generator=g) < cfg.p_intensity).to(dev).view(n, 1, 1, 1)
    big = torch.finfo(torch.float32).max
    lo = torch.where(box, x, torch.full_like(x, big)).amin(dim=(1, 2, 3), keepdim=True)
    hi = torch.where(box, x, torch.full_like(x, -big)).amax(dim=(1, 2, 3), keepdim=True)
    u = ((x - lo) / (hi - lo).clamp(min=1e-6)).clamp(0, 1)
    gamma = torch.exp(_uniform(n, math.log(cfg.gamma_range[0]), math.log(cfg.gamma_range[1]), g, dev)).view(n, 1, 1, 1)
    u = u ** gamma
    u = u * _bias_field(n, h, w, cfg.bias_amplitude, g, dev)
    sigma = _uniform(n, 0.0, cfg.noise_max, g, dev).view(n, 1, 1, 1)
    n1 = torch.randn(n, 1, h, w, device=dev) * sigma
    n2 = torch.randn(n, 1, h, w, device=dev) * sigma
    u = torch.sqrt((u + n1) ** 2 + n2 ** 2)
    mean1 = (u * box).sum(dim=(1, 2, 3), keepdim=True) / cnt
    std1 = (((u - mean1) * box) ** 2).sum(dim=(1, 2, 3), keepdim=True).div(cnt).sqrt().clamp(min=1e-6)
    restored = ((u - mean1) / std1 * std0 + mean0) * box
    x = torch.where(do_int, restored, x)

    do_aff = (torch.rand(n, generator=g) < cfg.p_affine).to(dev)
    rot = _uniform(n, -cfg.max_rotation_deg, cfg.max_rotation_deg, g, dev) * do_aff
    scale = torch.where(do_aff, _uniform(n, cfg.scale_range[0], cfg.scale_range[1], g, dev), torch.ones(n, device=dev))
    tx = _uniform(n, -cfg.max_translate, cfg.max_translate, g, dev) * 2 * do_aff
    ty = _uniform(n, -cfg.max_translate, cfg.max_translate, g, dev) * 2 * do_aff
    flip = (torch.rand(n, generator=g) < cfg.p_flip).to(dev)
    return _affine(x, label.float(), rot, scale, tx, ty, flip)


def augment_scar(patches: torch.Tensor, label: torch.Tensor, g: torch.Generator,
                 cfg: ScarAugment = ScarAugment()) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch of 3-channel boundary patches and their labels. Returns new tensors."""
    n, c, h, w = patches.shape
    dev = patches.device
    x = patches.float().clone()
    do_int = (torch.rand(n, generator=g) < cfg.p_intensity).to(dev).view(n, 1, 1, 1)
    a = _uniform(n, cfg.scale_range[0], cfg.scale_range[1], g, dev).view(n, 1, 1, 1)
    b = _uniform(n, -cfg.max_shift, cfg.max_shift, g, dev).view(n, 1, 1, 1)
    z = x[:, 0:1] * a + b
    z = z * _bias_field(n, h, w, cfg.bias_amplitude, g, dev)
    z = z + torch.randn(n, 1, h, w, device=dev) * _uniform(n, 0.0, cfg.noise_max, g, dev).view(n, 1, 1, 1)
    z = torch.where(do_int, z, x[:, 0:1])
    x = torch.cat([z, x[:, 1:2], torch.clamp(z, min=0)], dim=1)
    y = label.float()

    # Dihedral group: random 90-degree turns and a flip, per sample.
    k = torch.randint(0, 4, (n,), generator=g)
    fl = torch.rand(n, generator=g) < 0.5
    xs, ys = [], []
    for i in range(n):
        xi, yi = x[i], y[i]
        if bool(fl[i]):
            xi, yi = xi.flip(-1), yi.flip(-1)
        ki = int(k[i])
        if ki:
            xi, yi = torch.rot90(xi, ki, dims=(1, 2)), torch.rot90(yi, ki, dims=(1, 2))
        xs.append(xi)
        ys.append(yi)
    x, y = torch.stack(xs), torch.stack(ys)

    do_aff = (torch.rand(n, generator=g) < cfg.p_affine).to(dev)
    rot = _uniform(n, -cfg.max_rotation_deg, cfg.max_rotation_deg, g, dev) * do_aff
    scale = torch.where(do_aff, _uniform(n, cfg.affine_scale_range[0], cfg.affine_scale_range[1], g, dev),
                        torch.ones(n, device=dev))
    zero = torch.zeros(n, device=dev)
    no_flip = torch.zeros(n, dtype=torch.bool, device=dev)
    # Channel 2 stays max(channel 0, 0) through bilinear resampling only approximately; recompute.
    x, y = _affine(x, y, rot, scale, zero, zero, no_flip)
    x = torch.cat([x[:, 0:2], torch.clamp(x[:, 0:1], min=0)], dim=1)
    return x, y


def crop_la(full: torch.Tensor, label: torch.Tensor, size: int, g: torch.Generator,
            p_foreground: float = 0.9, margin: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Square crops of side ``size`` at even offsets (the pooled half scale, recomputed from each
    crop, then sees the same 2 x 2 cells as the product's half scale of the whole slice), for
    training on a CPU where a whole 640 x 640 slice per step is
    too slow. Networks are fully convolutional, so inference still runs on whole slices.

    With probability ``p_foreground`` (and where the slice has any LA) the crop holds a random LA
    pixel at a random position inside it, so boundaries dominate the batch; otherwise the crop is
    anywhere in the slice (background, distractors, zero padding). ``margin``: the LA pixel lies
    at least this far inside the crop (a later centre crop keeps it)."""
    n, _, h, w = full.shape
    if size % 2 or size > h or size > w or not 0 <= 2 * margin < size:
        raise ValueError(f"crop size must be even, at most {h} x {w} and over twice the margin {margin}, got {size}")
    ys, xs = [], []
    for i in range(n):
        fg = torch.nonzero(label[i, 0] >= 0.5)
        if len(fg) and float(torch.rand(1, generator=g)) < p_foreground:
            cy, cx = (int(v) for v in fg[int(torch.randint(len(fg), (1,), generator=g))])
            y0 = cy - margin - int(torch.randint(size - 2 * margin, (1,), generator=g))
            x0 = cx - margin - int(torch.randint(size - 2 * margin, (1,), generator=g))
        else:
            y0 = int(torch.randint(h - size + 1, (1,), generator=g))
            x0 = int(torch.randint(w - size + 1, (1,), generator=g))
        ys.append(min(max(y0, 0), h - size) // 2 * 2)
        xs.append(min(max(x0, 0), w - size) // 2 * 2)
    img = torch.stack([full[i, :, y:y + size, x:x + size] for i, (y, x) in enumerate(zip(ys, xs))])
    lab = torch.stack([label[i, :, y:y + size, x:x + size] for i, (y, x) in enumerate(zip(ys, xs))])
    return img, lab
