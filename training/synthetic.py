"""Tiny synthetic shards for tests and CI smoke runs (NOT training data for shipped weights:
those come from the product's own phantoms through `lascar dataset`).

LA: a bright ellipse (the "cavity") on noise, label = the ellipse; scar: patches with a bright
arc near the centre, label = the arc. Inputs follow the shard contract: z-scored slices, the half
scale is the 2 x 2 average pooling, scar channel 1 is an empirical-CDF-like map in [0, 1] and
channel 2 = max(z, 0).
"""

from __future__ import annotations

import os
from typing import Dict

import numpy as np

from .shards import write_shards


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / max(float(x.std()), 1e-6)


def make_tiny_shards(out: str, cases: int = 4, per_case: int = 3, la_size: int = 64, patch: int = 16,
                     seed: int = 0) -> Dict[str, str]:
    """Write OUT/la and OUT/scar; returns their paths."""
    rng = np.random.default_rng(seed)
    case_ids = [f"tiny{c:03d}" for c in range(cases)]
    n = cases * per_case
    case_idx = np.repeat(np.arange(cases, dtype=np.int32), per_case)

    yy, xx = np.mgrid[0:la_size, 0:la_size].astype(np.float32)
    full = np.zeros((n, 1, la_size, la_size), np.float32)
    lab = np.zeros((n, 1, la_size, la_size), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(0.35, 0.65, 2) * la_size
        ry, rx = rng.uniform(0.12, 0.25, 2) * la_size
        m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
        img = rng.normal(0, 0.3, (la_size, la_size)).astype(np.float32) + 1.5 * m
        full[i, 0] = _zscore(img)
        lab[i, 0] = m
    half = full.reshape(n, 1, la_size // 2, 2, la_size // 2, 2).mean(axis=(3, 5)).astype(np.float32)
    la_dir = write_shards(os.path.join(out, "la"), "la",
                          {"full": full, "half": half, "label": lab, "case": case_idx},
                          case_ids, preprocessing="tiny-synthetic", source="tiny random test shapes",
                          synthetic=True)

    py, px = np.mgrid[0:patch, 0:patch].astype(np.float32)
    patches = np.zeros((n, 3, patch, patch), np.float32)
    slab = np.zeros((n, 1, patch, patch), np.uint8)
    for i in range(n):
        r = np.hypot(py - patch / 2, px - patch / 2)
        ang = np.arctan2(py - patch / 2, px - patch / 2)
        a0 = rng.uniform(-np.pi, np.pi)
        arc = (np.abs(r - patch * 0.3) < 1.5) & (np.cos(ang - a0) > 0.3)
        z = _zscore(rng.normal(0, 0.5, (patch, patch)).astype(np.float32) + 2.0 * arc)
        ranks = z.ravel().argsort().argsort().reshape(z.shape) / (z.size - 1)
        patches[i, 0] = z
        patches[i, 1] = ranks
        patches[i, 2] = np.maximum(z, 0)
        slab[i, 0] = arc
    scar_dir = write_shards(os.path.join(out, "scar"), "scar",
                            {"patches": patches, "label": slab, "case": case_idx},
                            case_ids, preprocessing="tiny-synthetic", source="tiny random test shapes",
                            synthetic=True)
    return {"la": la_dir, "scar": scar_dir}
