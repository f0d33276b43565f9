"""Multiply-accumulate counting "ptflops-style" (the counter the paper's Table 1 used), written
here with forward hooks so the project needs no extra package.

The rules are those of ptflops' module hooks (pytorch_ops.py), per sample:
- Conv2d: prod(kernel) * in_ch * out_ch / groups * output pixels, plus, when the layer has a
  bias, out_ch * output pixels.
- ConvTranspose2d: as ptflops' earlier deconvolution hook: prod(kernel) * in_ch * out_ch / groups
  * INPUT pixels, plus bias * output pixels. (Recent ptflops reuse the convolution hook with output
  pixels, which counts a 2 x 2 stride-2 transposed convolution four times over; only
  Boundary2Patches has one, and Table 1 is about MSWS-Net.)
- BatchNorm2d: input elements, doubled when affine.
- ReLU: output elements.
- MaxPool2d / AvgPool2d: input elements.
- nn.Upsample: output elements.
- Element-wise additions and concatenations: not counted (ptflops' module hooks do not see
  Python's ``+``; its torch.add patch does not see the operator either).

The one non-module op in these networks, the FMM's bilinear resize (``F.interpolate``), is
counted as an nn.Upsample would be (output elements): ScaleMerge gets the same hook. Newer
ptflops versions patch F.interpolate and, when called with ``size=``, count only prod(size)
(height x width, not channels): a quirk we do not copy. The difference between these choices is
below 0.02 % of the totals at 640 x 640 (the level-wise upsampled maps hold ~51 M elements
against ~340 G MACs).
"""

from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import torch
import torch.nn as nn

from .models import ScaleMerge


def _numel(t: torch.Tensor) -> int:
    return int(t.numel())


def _conv(m: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> int:
    assert isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    k = 1
    for d in m.kernel_size:
        k *= int(d)
    per_position = k * m.in_channels * (m.out_channels // m.groups)
    out_positions = int(out.shape[0])
    for d in out.shape[2:]:
        out_positions *= int(d)
    # A transposed convolution does its kernel work once per INPUT pixel.
    src = inp[0] if isinstance(m, nn.ConvTranspose2d) else out
    positions = int(src.shape[0])
    for d in src.shape[2:]:
        positions *= int(d)
    total = per_position * positions
    if m.bias is not None:
        total += m.out_channels * out_positions
    return total


def _bn(m: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> int:
    n = _numel(inp[0])
    return 2 * n if getattr(m, "affine", False) else n


def _out_elems(m: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> int:
    return _numel(out)


def _in_elems(m: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> int:
    return _numel(inp[0])


def _merge(m: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> int:
    # Only the resize is counted (the addition is not, as in ptflops).
    return _numel(out)


RULES: Dict[type, Callable[[nn.Module, Sequence[torch.Tensor], torch.Tensor], int]] = {
    nn.Conv2d: _conv,
    nn.ConvTranspose2d: _conv,
    nn.BatchNorm2d: _bn,
    nn.ReLU: _out_elems,
    nn.MaxPool2d: _in_elems,
    nn.AvgPool2d: _in_elems,
    nn.Upsample: _out_elems,
    ScaleMerge: _merge,
}


def count_macs(model: nn.Module, inputs: Sequence[torch.Tensor]) -> Dict[str, int]:
    """Run ``model(*inputs)`` once in eval mode with counting hooks; returns MACs per sample,
    total and by layer type. Batch size of the inputs is divided out."""
    by_type: Dict[str, int] = {}
    handles: List[torch.utils.hooks.RemovableHandle] = []

    def make_hook(rule: Callable[[nn.Module, Sequence[torch.Tensor], torch.Tensor], int]):
        def hook(mod: nn.Module, inp: Sequence[torch.Tensor], out: torch.Tensor) -> None:
            name = type(mod).__name__
            by_type[name] = by_type.get(name, 0) + rule(mod, inp, out)

        return hook

    for mod in model.modules():
        rule = RULES.get(type(mod))
        if rule is not None:
            handles.append(mod.register_forward_hook(make_hook(rule)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    batch = int(inputs[0].shape[0])
    per_type = {k: v // batch for k, v in sorted(by_type.items())}
    return {"total": sum(per_type.values()), **per_type}
