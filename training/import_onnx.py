"""`python3 -m training import-onnx`: a shipped ONNX model back into a training checkpoint, so
that training can continue from the weights the product runs (`train --init`) when the PyTorch
checkpoint that produced them is gone (a lent GPU host keeps nothing).

The export folds each BatchNorm into the convolution before it (eval mode), so the ONNX file
holds one weight and one bias per convolution. The checkpoint gets those folded weights and
identity BatchNorms (mean 0, variance 1 - eps, scale 1, shift 0), which computes exactly the
exported function in eval mode. It is marked ``"batchnorm": "folded"``: `train` then keeps the
BatchNorms in eval mode (fine-tuning without batch statistics), since batch statistics would
undo the folding.

Matching: the convolutions' weights are taken in the order the graph first uses them, which is
the module order of the PyTorch network (the shared MSWS-Net encoder appears once); every shape
is checked, and the imported network is run on a deterministic input against the ONNX graph
(our numpy interpreter) before the checkpoint is written.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
import torch.nn as nn

from .models import build_model

BATCHNORM_FOLDED = "folded"


def _conv_params(path: str) -> Tuple[List[Tuple[str, np.ndarray, np.ndarray]], Any]:
    """(name, weight, bias) per distinct Conv / ConvTranspose weight, in order of first use."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    # The exporter reaches the shared encoder's second use through Identity nodes.
    alias = {n.output[0]: n.input[0] for n in proto.graph.node if n.op_type == "Identity"}

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    seen = set()
    out = []
    for node in proto.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose"):
            continue
        wname = resolve(node.input[1])
        bname = resolve(node.input[2]) if len(node.input) > 2 else ""
        if wname in seen:
            continue  # the shared encoder's second use
        seen.add(wname)
        if wname not in inits or bname not in inits:
            raise SystemExit(f"error: {path}: {node.op_type} {node.name!r} has no constant weight and bias")
        out.append((wname, inits[wname], inits[bname]))
    return out, proto


def _torch_convs(model: nn.Module) -> List[Tuple[nn.Module, nn.BatchNorm2d | None]]:
    """Each convolution in module order with the BatchNorm that follows it (None where none)."""
    mods = list(model.modules())
    pairs = []
    for i, m in enumerate(mods):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nxt = mods[i + 1] if i + 1 < len(mods) else None
            pairs.append((m, nxt if isinstance(nxt, nn.BatchNorm2d) else None))
    return pairs


def _per_sample_shape(spec: Dict[str, Any]) -> List[int]:
    """An input's shape without the batch axis; where the axes are named (dynamic), the size the
    model was trained on: the manifest's `canvas`."""
    out = []
    for d in spec["shape"][1:]:
        if isinstance(d, int) or (isinstance(d, str) and d.isdigit()):
            out.append(int(d))
        elif spec.get("canvas"):
            return [int(v) for v in spec["canvas"]]
        else:
            raise SystemExit(f"error: input {spec['name']} has a named axis {d!r} and the manifest gives no 'canvas' (the size it was trained on)")
    return out


def import_onnx(onnx_path: str, manifest_path: str | None = None) -> Dict[str, Any]:
    """A checkpoint dict (as train.save_checkpoint takes it) from an exported model + manifest."""
    manifest_path = manifest_path or os.path.splitext(onnx_path)[0] + ".json"
    with open(manifest_path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    expected = manifest.get("sha256")
    if expected:
        import hashlib

        with open(onnx_path, "rb") as fh:
            actual = hashlib.sha256(fh.read()).hexdigest()
        if actual != expected:
            raise SystemExit(f"error: {manifest_path} describes another file (sha256 {expected[:12]}, "
                             f"{os.path.basename(onnx_path)} is {actual[:12]})")
    kind = manifest["model"]
    width = int(manifest["width"])
    n_scales = int(manifest.get("n_encoders") or 2) if kind == "la" else 2
    model = build_model(kind, width, n_scales=n_scales)
    convs, _ = _conv_params(onnx_path)
    pairs = _torch_convs(model)
    if len(convs) != len(pairs):
        raise SystemExit(f"error: {onnx_path} has {len(convs)} convolutions, a width-{width} {kind} network "
                         f"{len(pairs)}: not an export of this architecture")
    with torch.no_grad():
        for (name, w, b), (conv, bn) in zip(convs, pairs):
            if tuple(conv.weight.shape) != w.shape:
                raise SystemExit(f"error: {onnx_path}: weight {name} is {w.shape}, expected {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(w.copy()))
            conv.bias.copy_(torch.from_numpy(b.copy()))
            if bn is not None:
                bn.weight.fill_(1.0)
                bn.bias.fill_(0.0)
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
    shapes = {i["name"]: _per_sample_shape(i) for i in manifest["inputs"]}
    return {
        "kind": kind,
        "width": width,
        "n_scales": n_scales,
        "state_dict": model.state_dict(),
        "batchnorm": BATCHNORM_FOLDED,
        "epoch": 0,
        "steps": 0,
        "validation": manifest.get("validation", {}),
        "preprocessing": manifest["preprocessing"],
        "data": manifest.get("training_data", {}),
        "input_shapes": shapes,
        "split": manifest.get("split", {}),
        "init": f"imported from {os.path.basename(onnx_path)} (sha256 {manifest.get('sha256', '?')[:12]})",
        "torch": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def check_import(ckpt: Dict[str, Any], onnx_path: str, tolerance: float = 1e-4) -> float:
    """Max |PyTorch - ONNX| on a deterministic input (small spatial size: both are convolutional)."""
    from .export import eval_model
    from .models import pyramid
    import onnx

    from .onnx_numpy import run

    model = eval_model(ckpt)
    g = torch.Generator()
    g.manual_seed(0)
    if ckpt["kind"] == "la":
        full = torch.randn(1, 1, 64 << (ckpt["n_scales"] - 1), 64 << (ckpt["n_scales"] - 1), generator=g)
        inputs = pyramid(full, ckpt["n_scales"])
    else:
        inputs = [torch.randn(1, 3, 64, 64, generator=g)]
    with torch.no_grad():
        ref = model(*inputs).numpy()
    names = [i.name for i in onnx.load(onnx_path).graph.input]
    got = run(onnx_path, {n: x.numpy() for n, x in zip(names, inputs)})[0]
    diff = float(np.max(np.abs(ref - got)))
    if diff > tolerance:
        raise SystemExit(f"error: imported {onnx_path} differs from the ONNX graph by {diff:g} (> {tolerance:g})")
    return diff
