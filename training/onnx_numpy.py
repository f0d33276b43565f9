"""A small numpy interpreter for the ONNX graphs this package exports, so the exported graph can
be checked against PyTorch where no ONNX runtime is installed (Debian has onnx 1.12, which lacks
onnx.reference, and no python3-onnxruntime). It supports exactly the operators our two networks
export to (Conv, ConvTranspose, Relu, MaxPool, Resize linear/align_corners, Add, Concat, Sigmoid,
Identity, Constant) and refuses anything else by name. Slow but exact enough (float64 inside);
meant for tiny test models.
"""

from __future__ import annotations

from typing import Dict, List

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class UnsupportedOnnx(ValueError):
    pass


def _attrs(node) -> Dict[str, object]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _to_array(tensor) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(tensor)


def _conv(x: np.ndarray, w: np.ndarray, b, a: Dict[str, object]) -> np.ndarray:
    if int(a.get("group", 1)) != 1:
        raise UnsupportedOnnx("Conv with groups != 1")
    if any(d != 1 for d in a.get("dilations", [1, 1])):
        raise UnsupportedOnnx("Conv with dilation")
    pads = list(a.get("pads", [0, 0, 0, 0]))
    sh, sw = list(a.get("strides", [1, 1]))
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    kh, kw = w.shape[2], w.shape[3]
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # N C H W kh kw
    out = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _conv_transpose(x: np.ndarray, w: np.ndarray, b, a: Dict[str, object]) -> np.ndarray:
    # Only the non-overlapping case our networks use: kernel == stride, no padding.
    k = list(w.shape[2:])
    s = list(a.get("strides", [1, 1]))
    if k != s or any(p != 0 for p in a.get("pads", [0, 0, 0, 0])) or int(a.get("group", 1)) != 1:
        raise UnsupportedOnnx(f"ConvTranspose other than kernel == stride without padding ({k}, {s})")
    n, c, h, wd = x.shape
    out = np.einsum("nchw,coij->nohiwj", x, w, optimize=True).reshape(n, w.shape[1], h * k[0], wd * k[1])
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out


def _maxpool(x: np.ndarray, a: Dict[str, object]) -> np.ndarray:
    k = list(a["kernel_shape"])
    s = list(a.get("strides", k))
    if k != s or any(p != 0 for p in a.get("pads", [0, 0, 0, 0])) or int(a.get("ceil_mode", 0)):
        raise UnsupportedOnnx("MaxPool other than non-overlapping floor mode")
    n, c, h, w = x.shape
    ho, wo = h // k[0], w // k[1]
    return x[:, :, : ho * k[0], : wo * k[1]].reshape(n, c, ho, k[0], wo, k[1]).max(axis=(3, 5))


def _linear_axis(x: np.ndarray, axis: int, out_len: int) -> np.ndarray:
    n_in = x.shape[axis]
    if out_len == 1 or n_in == 1:
        pos = np.zeros(out_len)
    else:
        pos = np.arange(out_len) * (n_in - 1) / (out_len - 1)  # align_corners
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    shape = [1] * x.ndim
    shape[axis] = out_len
    frac = frac.reshape(shape)
    return np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac


def _resize(x: np.ndarray, scales, sizes, a: Dict[str, object]) -> np.ndarray:
    mode = a.get("mode", b"nearest")
    ctm = a.get("coordinate_transformation_mode", b"half_pixel")
    if mode != b"linear" or ctm != b"align_corners":
        raise UnsupportedOnnx(f"Resize mode {mode!r} / {ctm!r}")
    if sizes is not None and sizes.size:
        out_shape = [int(v) for v in sizes]
    else:
        out_shape = [int(np.floor(d * s)) for d, s in zip(x.shape, scales)]
    if out_shape[:2] != list(x.shape[:2]):
        raise UnsupportedOnnx("Resize over batch or channel axes")
    y = _linear_axis(x, 2, out_shape[2])
    return _linear_axis(y, 3, out_shape[3])


def run(model_path: str, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    """Evaluate the graph; returns the graph outputs in order (float32)."""
    import onnx

    model = onnx.load(model_path)
    g = model.graph
    env: Dict[str, np.ndarray] = {t.name: _to_array(t).astype(np.float64) if _to_array(t).dtype.kind == "f"
                                  else _to_array(t) for t in g.initializer}
    for k, v in feeds.items():
        env[k] = np.asarray(v, dtype=np.float64)

    def get(name: str):
        return env[name] if name else None

    for node in g.node:
        a = _attrs(node)
        op = node.op_type
        ins = [get(i) for i in node.input]
        if op == "Constant":
            val = _to_array(a["value"]) if "value" in a else None
            if val is None:
                raise UnsupportedOnnx("Constant without a tensor value")
            out = val.astype(np.float64) if val.dtype.kind == "f" else val
        elif op == "Identity":
            out = ins[0]
        elif op == "Conv":
            out = _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "ConvTranspose":
            out = _conv_transpose(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Sigmoid":
            out = 1 / (1 + np.exp(-ins[0]))
        elif op == "MaxPool":
            out = _maxpool(ins[0], a)
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "Concat":
            out = np.concatenate(ins, axis=int(a["axis"]))
        elif op == "Resize":
            scales = ins[2] if len(ins) > 2 else None
            sizes = ins[3] if len(ins) > 3 else None
            out = _resize(ins[0], scales, sizes, a)
        else:
            raise UnsupportedOnnx(f"operator {op} is not supported by this checker")
        env[node.output[0]] = out
    return [env[o.name].astype(np.float32) for o in g.output]
