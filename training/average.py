"""Weight averaging of checkpoints of one network ("model soup", Wortsman et al. 2022; WiSE-FT when
one of them is the model fine-tuning started from). Epoch-to-epoch, this small network's whole-method
validation Dice swings by a few hundredths on CPU fine-tuning; an average of nearby weights sits in
a flatter place than any one epoch, and averaging with the starting model keeps what it knew about
the look it was trained on (WiSE-FT's finding for distribution shift)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch

from .provenance import portable_path
from .train import load_checkpoint

# What must agree for two checkpoints to be the same network.
_SAME = ("kind", "width", "n_scales", "batchnorm", "preprocessing")


def average_checkpoints(paths: Sequence[str], weights: Optional[Sequence[float]] = None) -> Dict[str, Any]:
    """The weighted mean of the checkpoints' floating-point tensors (weights default to equal and
    are normalised to sum 1). Metadata is the last checkpoint's, with `averaged_from` added;
    integer tensors (BatchNorm's batch counters) are the last checkpoint's."""
    if len(paths) < 2:
        raise SystemExit("error: averaging needs at least two checkpoints")
    w = [1.0] * len(paths) if weights is None else [float(x) for x in weights]
    if len(w) != len(paths):
        raise SystemExit(f"error: {len(w)} weights for {len(paths)} checkpoints")
    total = sum(w)
    if any(x < 0 for x in w) or total <= 0:
        raise SystemExit("error: weights must be >= 0 and not all 0")
    w = [x / total for x in w]
    ckpts: List[Dict[str, Any]] = [load_checkpoint(p) for p in paths]
    first = ckpts[0]
    for p, c in zip(paths[1:], ckpts[1:]):
        for key in _SAME:
            if c.get(key) != first.get(key):
                raise SystemExit(f"error: {p} has {key} {c.get(key)!r}, {paths[0]} has {first.get(key)!r}")
        if set(c["state_dict"]) != set(first["state_dict"]):
            raise SystemExit(f"error: {p} and {paths[0]} have different tensors")
    state: Dict[str, torch.Tensor] = {}
    for name, last in ckpts[-1]["state_dict"].items():
        if not torch.is_floating_point(last):
            state[name] = last.clone()
            continue
        acc = torch.zeros_like(last, dtype=torch.float64)
        for x, c in zip(w, ckpts):
            acc += x * c["state_dict"][name].to(torch.float64)
        state[name] = acc.to(last.dtype)
    out = {k: v for k, v in ckpts[-1].items() if k != "state_dict"}
    out["averaged_from"] = [
        {"checkpoint": portable_path(p), "weight": round(x, 6),
         "epoch": c.get("epoch"), "validation": c.get("validation")}
        for p, x, c in zip(paths, w, ckpts)
    ]
    out["validation"] = None  # the average itself was never run on the validation slices
    out["state_dict"] = state
    return out
