"""Augmentation for a real scanner population, applied batch-wise on the training device.

The shards hold the product's preprocessed tensors (per-slice z-score, 640 x 640 pad/crop), so
intensity changes are made in a way the preprocessing would not undo, and the LA half scale is
recomputed afterwards (2 x 2 average pooling, the product's definition) instead of being
augmented on its own.

Domain randomisation (issue 13): the phantom generator has one look (one intensity model, one
noise level, one blur); the ranges below are wide enough that it cannot be learnt, and are
documented with their reasons in training/README.md, "Augmentation". Every draw is per sample.

Intensity chain (LA slices inside the content box; scar patches on channel 0), on the image
mapped to [0, 1] (box minimum -> 0, maximum -> 1):
  1. gamma, log-uniform (LA 0.5..2.0, scar 0.6..1.7);
  2. contrast curve (p 0.5): a random monotone piecewise-linear curve through (0, 0) and (1, 1)
     with 4 equal segments whose slopes differ by up to ``curve_ratio`` (4): blood-to-myocardium
     and scar-to-blood contrast change independently, poorly nulled myocardium lifts the dark end;
  3. bias field: exp of a smooth 4 x 4 random field, bicubic, clamped to +-a, a uniform in
     0..``bias_max`` (LA 0.4: x0.67..x1.49; scar 0.2);
  4. blur (partial volume, p 0.5 LA / 0.3 scar): Gaussian, sigma uniform in ``blur_sigma`` pixels
     (LA 0.3..1.5, scar 0.3..1.0);
  5. ghosting (p 0.3 LA / 0.2 scar): a faint copy shifted along one random axis (the phase-encoding
     direction), shift 10..40 % of the size (wrapping, as MR ghosts do), amplitude 0.05..0.25 (LA)
     / 0.05..0.15 (scar) of the image;
  6. Rician-like noise: magnitude of (signal + complex Gaussian noise), sigma log-uniform
     (LA 0.005..0.10, scar 0.005..0.08 of the range: SNR about 200 down to 10);
then LA slices go back to the slice's ORIGINAL mean and standard deviation over the box (the
input stays what the product's z-score would give); a scar patch goes back to its original
minimum and maximum, then z' = a z + b (a 0.7..1.4, b +-0.3: slice statistics vary with the field
of view), channel 2 recomputed as max(z', 0), channel 1 (the histogram scar probability, a rank
transform of the slice) left as is.

Geometry: LA: small affine, image bilinear and label nearest-by-threshold, zeros outside:
rotation +-10 degrees, isotropic scale 0.9..1.1, translation +-5 % of the size; no flips (the
left atrium's side is anatomy, not acquisition). Scar: flips and 90-degree rotations (a boundary
patch has no preferred orientation along the contour) plus a small rotation/scale, identical for
the three channels and the label. The intensity chain never moves a pixel, so labels stay aligned.

Augmentation parameters come from the CPU generator ``g``; pixel noise is drawn on the device
from torch's global generator (seeded by the training command), to keep it off the CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional

import torch
import torch.nn.functional as F


@dataclass
class IntensityRanges:
    """The intensity chain's ranges (see the module docstring)."""
    gamma_range: tuple = (0.5, 2.0)
    p_curve: float = 0.5
    curve_ratio: float = 4.0
    bias_max: float = 0.4
    p_blur: float = 0.5
    blur_sigma: tuple = (0.3, 1.5)
    p_ghost: float = 0.3
    ghost_shift: tuple = (0.1, 0.4)
    ghost_amplitude: tuple = (0.05, 0.25)
    noise_sigma: tuple = (0.005, 0.10)


CURVE_SEGMENTS = 4


@dataclass
class LaAugment:
    p_intensity: float = 0.8
    intensity: IntensityRanges = field(default_factory=IntensityRanges)
    p_affine: float = 0.8
    max_rotation_deg: float = 10.0
    scale_range: tuple = (0.9, 1.1)
    max_translate: float = 0.05
    p_flip: float = 0.0


def scar_intensity() -> IntensityRanges:
    """Narrower than the LA's: a 64 x 64 patch has little context to tell artefact from scar."""
    return IntensityRanges(gamma_range=(0.6, 1.7), bias_max=0.2, p_blur=0.3, blur_sigma=(0.3, 1.0),
                           p_ghost=0.2, ghost_amplitude=(0.05, 0.15), noise_sigma=(0.005, 0.08))


@dataclass
class ScarAugment:
    p_intensity: float = 0.8
    intensity: IntensityRanges = field(default_factory=scar_intensity)
    scale_range: tuple = (0.7, 1.4)
    max_shift: float = 0.3
    p_affine: float = 0.5
    max_rotation_deg: float = 10.0
    affine_scale_range: tuple = (0.9, 1.1)


def _uniform(n: int, lo: float, hi: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=g) * (hi - lo) + lo).to(device)


def _log_uniform(n: int, lo: float, hi: float, g: torch.Generator) -> torch.Tensor:
    return torch.exp(torch.rand(n, generator=g) * (math.log(hi) - math.log(lo)) + math.log(lo))


def sample_intensity(n: int, g: torch.Generator, r: IntensityRanges) -> Dict[str, torch.Tensor]:
    """Per-sample parameters of the intensity chain (CPU tensors of length n; off = neutral value:
    curve slopes all 1, blur sigma 0, ghost amplitude 0)."""
    gamma = _log_uniform(n, *r.gamma_range, g)
    on = torch.rand(n, generator=g) < r.p_curve
    # Segment slopes log-uniform in [1/sqrt(ratio), sqrt(ratio)], normalised so the curve ends at 1:
    # any two segments' slopes differ by at most `ratio`.
    half = math.log(r.curve_ratio) / 2
    raw = torch.exp((torch.rand(n, CURVE_SEGMENTS, generator=g) * 2 - 1) * half)
    slopes = torch.where(on.view(n, 1), raw / raw.mean(dim=1, keepdim=True), torch.ones(n, CURVE_SEGMENTS))
    bias = torch.rand(n, generator=g) * r.bias_max
    bias_field = (torch.rand(n, 1, 4, 4, generator=g) * 2 - 1)  # scaled by `bias` when applied
    blur = torch.where(torch.rand(n, generator=g) < r.p_blur,
                       torch.rand(n, generator=g) * (r.blur_sigma[1] - r.blur_sigma[0]) + r.blur_sigma[0],
                       torch.zeros(n))
    ghost_on = torch.rand(n, generator=g) < r.p_ghost
    ghost_amp = torch.where(ghost_on, torch.rand(n, generator=g) * (r.ghost_amplitude[1] - r.ghost_amplitude[0])
                            + r.ghost_amplitude[0], torch.zeros(n))
    ghost_shift = torch.rand(n, generator=g) * (r.ghost_shift[1] - r.ghost_shift[0]) + r.ghost_shift[0]
    ghost_axis = torch.randint(0, 2, (n,), generator=g)
    ghost_sign = torch.randint(0, 2, (n,), generator=g) * 2 - 1
    noise = _log_uniform(n, *r.noise_sigma, g)
    return {"gamma": gamma, "slopes": slopes, "bias": bias, "bias_field": bias_field, "blur": blur,
            "ghost_amp": ghost_amp, "ghost_shift": ghost_shift, "ghost_axis": ghost_axis,
            "ghost_sign": ghost_sign, "noise": noise}


def contrast_curve(u: torch.Tensor, slopes: torch.Tensor) -> torch.Tensor:
    """Monotone piecewise-linear map of u in [0, 1] (N, C, H, W) with per-sample segment slopes
    (N, K) averaging 1, so that 0 -> 0 and 1 -> 1."""
    n, k = slopes.shape
    s = slopes.to(u.device, u.dtype)
    knots = torch.cat([torch.zeros(n, 1, device=u.device, dtype=u.dtype), torch.cumsum(s / k, dim=1)], dim=1)
    seg = (u * k).floor().clamp(0, k - 1).long()  # segment index per pixel
    flat = seg.view(n, -1)
    base = torch.gather(knots, 1, flat).view_as(u)
    slope = torch.gather(s, 1, flat).view_as(u)
    return base + (u - seg.to(u.dtype) / k) * slope


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-sample separable Gaussian blur of (N, 1, H, W); sigma (N,) in pixels, 0 = unchanged.
    Reflect padding, so the content box's edge does not darken. One grouped convolution per
    axis for the whole batch (a kernel per sample; sigma 0 is the identity kernel)."""
    n, _, h, w = x.shape
    s = sigma.to(x.device, x.dtype).view(n, 1)
    if not bool((s > 0).any()):
        return x.clone()
    r = max(1, int(math.ceil(3 * float(s.max()))))
    r = min(r, h - 1, w - 1)
    t = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype).view(1, -1)
    k = torch.exp(-0.5 * (t / s.clamp(min=1e-6)) ** 2)
    k = torch.where(s > 0, k, (t == 0).to(x.dtype))
    k = k / k.sum(dim=1, keepdim=True)
    xs = x.reshape(1, n, h, w)
    xs = F.conv2d(F.pad(xs, (r, r, 0, 0), mode="reflect"), k.view(n, 1, 1, -1), groups=n)
    xs = F.conv2d(F.pad(xs, (0, 0, r, r), mode="reflect"), k.view(n, 1, -1, 1), groups=n)
    return xs.reshape(n, 1, h, w)


def ghost(x: torch.Tensor, amp: torch.Tensor, shift: torch.Tensor, axis: torch.Tensor,
          sign: torch.Tensor) -> torch.Tensor:
    """x + amp * x shifted (wrapping) by shift x size along axis (0: rows, 1: columns), per sample
    (the roll as one gather per axis for the whole batch)."""
    n, c, h, w = x.shape
    dev = x.device
    a = amp.to(dev, x.dtype).view(n, 1, 1, 1)
    if not bool((a > 0).any()):
        return x.clone()
    rows = axis.to(dev) == 0
    k_r = torch.where(rows, (shift.to(dev) * h).round().long() * sign.to(dev), torch.zeros_like(rows, dtype=torch.long))
    k_c = torch.where(rows, torch.zeros_like(rows, dtype=torch.long), (shift.to(dev) * w).round().long() * sign.to(dev))
    # torch.roll by k: out[j] = in[(j - k) mod size].
    ir = (torch.arange(h, device=dev).view(1, h) - k_r.view(n, 1)) % h
    ic = (torch.arange(w, device=dev).view(1, w) - k_c.view(n, 1)) % w
    shifted = torch.gather(x, 2, ir.view(n, 1, h, 1).expand(n, c, h, w))
    shifted = torch.gather(shifted, 3, ic.view(n, 1, 1, w).expand(n, c, h, w))
    return x + a * shifted


def apply_intensity(u: torch.Tensor, p: Dict[str, torch.Tensor], noise: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The intensity chain on u in [0, 1], (N, 1, H, W). ``noise``: (2, N, 1, H, W) standard normal
    draws (default: fresh ones on u's device)."""
    n, _, h, w = u.shape
    dev = u.device
    view = (n, 1, 1, 1)
    u = u.clamp(0, 1) ** p["gamma"].to(dev).view(view)
    u = contrast_curve(u, p["slopes"])
    amp = p["bias"].to(dev).view(view)
    field = F.interpolate(p["bias_field"].to(dev), size=(h, w), mode="bicubic", align_corners=True).clamp(-1, 1)
    u = u * torch.exp(field * amp)
    u = gaussian_blur(u, p["blur"])
    u = ghost(u, p["ghost_amp"], p["ghost_shift"], p["ghost_axis"], p["ghost_sign"])
    if noise is None:
        noise = torch.randn(2, n, 1, h, w, device=dev)
    sigma = p["noise"].to(dev).view(view)
    return torch.sqrt((u + noise[0] * sigma) ** 2 + (noise[1] * sigma) ** 2)


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


def _box_range(x: torch.Tensor, box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    big = torch.finfo(torch.float32).max
    lo = torch.where(box, x, torch.full_like(x, big)).amin(dim=(1, 2, 3), keepdim=True)
    hi = torch.where(box, x, torch.full_like(x, -big)).amax(dim=(1, 2, 3), keepdim=True)
    return lo, hi


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
    lo, hi = _box_range(x, box)
    u = ((x - lo) / (hi - lo).clamp(min=1e-6)).clamp(0, 1) * box  # padding stays 0 for blur/ghosts
    u = apply_intensity(u, sample_intensity(n, g, cfg.intensity))
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
    z0 = x[:, 0:1]
    everywhere = torch.ones_like(z0, dtype=torch.bool)
    lo, hi = _box_range(z0, everywhere)
    span = (hi - lo).clamp(min=1e-6)
    u = apply_intensity((z0 - lo) / span, sample_intensity(n, g, cfg.intensity))
    a = _uniform(n, cfg.scale_range[0], cfg.scale_range[1], g, dev).view(n, 1, 1, 1)
    b = _uniform(n, -cfg.max_shift, cfg.max_shift, g, dev).view(n, 1, 1, 1)
    z = (u * span + lo) * a + b
    z = torch.where(do_int, z, z0)
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
