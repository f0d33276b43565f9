"""`python3 -m training summary`: parameter counts and MACs (ptflops-style, see macs.py)."""

from __future__ import annotations

from typing import Any, Dict

import torch

from .macs import count_macs
from .models import Boundary2PatchesNet, MswsNet, count_parameters

# The paper's Table 1: GMac of MSWS-Net at 640 x 640 for n = 1..4 encoders (width 64).
PAPER_TABLE1_GMAC = {1: 310.80, 2: 339.31, 3: 346.44, 4: 348.22}
SIZE = 640
PATCH = 64


def msws_macs(width: int, n_scales: int, size: int = SIZE) -> Dict[str, int]:
    """MACs for one 640 x 640 slice; the model runs on the meta device (shapes only)."""
    model = MswsNet(width=width, n_scales=n_scales).to("meta")
    inputs = [torch.empty(1, 1, size >> s, size >> s, device="meta") for s in range(n_scales)]
    return count_macs(model, inputs)


def scar_macs(width: int, size: int = PATCH) -> Dict[str, int]:
    model = Boundary2PatchesNet(width=width).to("meta")
    return count_macs(model, [torch.empty(1, 3, size, size, device="meta")])


def summary(width: int) -> Dict[str, Any]:
    table = []
    for n in (1, 2, 3, 4):
        macs = msws_macs(width, n)
        row: Dict[str, Any] = {"n_encoders": n, "macs": macs["total"], "gmac": round(macs["total"] / 1e9, 3)}
        if width == 64:
            row["paper_gmac"] = PAPER_TABLE1_GMAC[n]
            row["difference_percent"] = round((macs["total"] / 1e9 / PAPER_TABLE1_GMAC[n] - 1) * 100, 4)
        table.append(row)
    scar = scar_macs(width)
    return {
        "width": width,
        "msws_net": {
            "parameters": count_parameters(MswsNet(width=width)),
            "n_encoders": 2,
            "input": [[1, SIZE, SIZE], [1, SIZE // 2, SIZE // 2]],
            "macs_per_slice": table[1]["macs"],
        },
        "boundary2patches": {
            "parameters": count_parameters(Boundary2PatchesNet(width=width)),
            "input": [3, PATCH, PATCH],
            "macs_per_patch": scar["total"],
        },
        "msws_net_macs_by_encoders_640": table,
        "counting": "ptflops module-hook rules: conv incl. bias, BatchNorm 2x elements, ReLU, pooling "
                    "input elements, upsampling output elements; additions and concatenations not counted",
    }
