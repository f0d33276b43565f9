"""`python3 -m training export` (ONNX opset 17, dynamic batch, sigmoid inside, with a manifest)
and `python3 -m training reference-output` (a deterministic input and PyTorch's output as raw
float32, for the TypeScript side to compare onnxruntime-node against)."""

from __future__ import annotations

import datetime as _dt
import hashlib
import inspect
import json
import os
import sys
import warnings
from typing import Any, Dict, List, Tuple

import numpy as np
import torch

from .models import build_model, count_parameters, pyramid
from .provenance import scrub_absolute_paths
from .train import load_checkpoint

OPSET = 17
OUTPUT_NAME = "probability"
THRESHOLD = 0.5


SCALE_NAMES = ["image_full", "image_half", "image_quarter", "image_eighth"]


def input_names(kind: str, n_scales: int = 2) -> List[str]:
    if kind != "la":
        return ["patches"]
    return [SCALE_NAMES[k] if k < len(SCALE_NAMES) else f"image_scale{k}" for k in range(n_scales)]


def scale_shapes(ckpt: Dict[str, Any]) -> Dict[str, List[int]]:
    """Per-sample input shapes by input name (LA scale k: the full shape halved k times)."""
    shapes = ckpt["input_shapes"]
    if ckpt["kind"] != "la":
        return {"patches": list(shapes["patches"])}
    c, h, w = shapes["image_full"]
    n = int(ckpt.get("n_scales", 2))
    return {name: [c, h >> k, w >> k] for k, name in enumerate(input_names("la", n))}


def _manifest_input(name: str, shape: List[int], axes: Dict[int, str]) -> Dict[str, Any]:
    """An input as the manifest lists it: the graph's named axes where they are free (the product
    reads a named LA height/width as "any window of the canvas"), and the size it was trained on
    (`canvas`), which `import-onnx` restores."""
    full = ["batch"] + list(shape)
    named = [axes.get(a, d) for a, d in enumerate(full)]
    spec: Dict[str, Any] = {"name": name, "dtype": "float32", "shape": named}
    if named != full:
        spec["canvas"] = list(shape)
    return spec


def architecture(kind: str) -> str:
    return "MSWS-Net" if kind == "la" else "Boundary2Patches UNet"


def eval_model(ckpt: Dict[str, Any]) -> torch.nn.Module:
    """The checkpoint's network on CPU in eval mode (BatchNorm running statistics, no dropout),
    sigmoid applied inside."""
    model = build_model(ckpt["kind"], int(ckpt["width"]), n_scales=int(ckpt.get("n_scales", 2)), with_sigmoid=True)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model


def example_inputs(ckpt: Dict[str, Any], batch: int, seed: int) -> Tuple[torch.Tensor, ...]:
    """Deterministic standard-normal inputs (z-score-like) of the checkpoint's input shapes; the
    LA half scale is the 2 x 2 average pooling of the full scale, as the product computes it."""
    g = torch.Generator()
    g.manual_seed(seed)
    shapes = ckpt["input_shapes"]
    if ckpt["kind"] == "la":
        full = torch.randn([batch] + list(shapes["image_full"]), generator=g)
        return tuple(pyramid(full, int(ckpt.get("n_scales", 2))))
    patches = torch.randn([batch] + list(shapes["patches"]), generator=g)
    patches[:, 1] = torch.rand(patches[:, 1].shape, generator=g)  # a CDF channel lies in [0, 1]
    patches[:, 2] = patches[:, 0].clamp(min=0)
    return (patches,)


def _export_kwargs() -> Dict[str, Any]:
    # PyTorch >= 2.9 defaults to the dynamo exporter (needs onnxscript); the TorchScript exporter
    # is what torch 1.13 has, so ask for it explicitly where the choice exists.
    params = inspect.signature(torch.onnx.export).parameters
    return {"dynamo": False} if "dynamo" in params else {}


def _check_no_duplicated_weights(path: str, parameters: int) -> None:
    """The shared encoder must be stored once: with BatchNorm folded into the convolutions the
    graph holds no more numbers than the network has parameters (a second encoder copy would)."""
    import onnx

    stored = sum(int(np.prod(t.dims)) for t in onnx.load(path).graph.initializer)
    if stored > parameters:
        raise SystemExit(f"error: {path} stores {stored} weights for a {parameters}-parameter network "
                         "(shared encoder duplicated?)")


def export(args) -> Dict[str, Any]:
    ckpt = load_checkpoint(args.checkpoint)
    kind = ckpt["kind"]
    if args.kind and args.kind != kind:
        raise SystemExit(f"error: --kind {args.kind} but {args.checkpoint} holds a {kind!r} model")
    model = eval_model(ckpt)
    names = input_names(kind, int(ckpt.get("n_scales", 2)))
    dummy = example_inputs(ckpt, 1, 0)
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, f"{kind}.onnx")
    dynamic = {n: {0: "batch"} for n in names}
    dynamic[OUTPUT_NAME] = {0: "batch"}
    if kind == "la":
        # Fully convolutional: height and width are free too, so the product can run a crop
        # around the atrium (sides a multiple of 64: both scales pool five times).
        for k, n in enumerate(names):
            tag = "" if k == 0 else f"{n.replace('image_', '')}_"  # image_half: half_height
            dynamic[n] = {0: "batch", 2: f"{tag}height", 3: f"{tag}width"}
        dynamic[OUTPUT_NAME] = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad(), warnings.catch_warnings():
        # Tracing turns the FMM's size checks into constants: intended (the scales are exact
        # halves at every size a multiple of 64, so the traced "upsample x2" holds for all).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message="The shape inference of prim::Constant")
        common = dict(input_names=names, output_names=[OUTPUT_NAME], dynamic_axes=dynamic, opset_version=OPSET)
        try:
            torch.onnx.export(model, dummy, onnx_path, do_constant_folding=True, **common, **_export_kwargs())
        except Exception as exc:  # noqa: BLE001 - a torch whose TorchScript exporter is gone
            if not _export_kwargs():
                raise
            print(f"note: TorchScript ONNX exporter failed ({type(exc).__name__}: {exc}); using dynamo=True",
                  file=sys.stderr)
            torch.onnx.export(model, dummy, onnx_path, dynamo=True, external_data=False, **common)
    _check_no_duplicated_weights(onnx_path, count_parameters(model))
    import onnx  # imported late: only export needs it

    proto = onnx.load(onnx_path)
    onnx.checker.check_model(proto)
    graph_inputs = [i.name for i in proto.graph.input if i.name in names]
    if graph_inputs != names:
        raise SystemExit(f"error: exported graph inputs {graph_inputs} != {names}")
    with open(onnx_path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()

    shapes = scale_shapes(ckpt)
    out_shape = [dynamic[OUTPUT_NAME].get(a, d) for a, d in enumerate(["batch", 1] + list(shapes[names[0]][1:]))]
    manifest = {
        "model": kind,
        "architecture": architecture(kind),
        "file": os.path.basename(onnx_path),
        "sha256": digest,
        "bytes": os.path.getsize(onnx_path),
        "width": int(ckpt["width"]),
        "n_encoders": int(ckpt.get("n_scales", 2)) if kind == "la" else None,
        "parameters": count_parameters(model),
        "opset": OPSET,
        "inputs": [_manifest_input(n, shapes[n], dynamic[n]) for n in names],
        "output": {"name": OUTPUT_NAME, "dtype": "float32", "shape": out_shape,
                   "meaning": "foreground probability (sigmoid applied inside the graph)"},
        "thresholds": {"probability": THRESHOLD, "rule": "foreground where probability > threshold"},
        "preprocessing": ckpt["preprocessing"],
        "training_data": _data_description(ckpt["data"]),
        "validation": ckpt["validation"],
        "checkpoint": {"epoch": ckpt["epoch"], "steps": ckpt["steps"], "init": ckpt.get("init", ""),
                       "created": ckpt["created"]},
        "split": {k: len(v) for k, v in ckpt["split"].items()},
        "test_cases": list(ckpt["split"].get("test", [])),
        "torch": torch.__version__,
        "trained_with_torch": ckpt.get("torch", ""),
        "exported": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if ckpt.get("averaged_from"):  # `python3 -m training average`: which checkpoints, what weights
        manifest["averaged_from"] = ckpt["averaged_from"]
    # Shipped with the model: no path of the training machine (an older checkpoint's --init, a
    # data source left at its default folder) survives into it.
    manifest = scrub_absolute_paths(manifest)
    with open(os.path.join(args.out, f"{kind}.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    print(f"wrote {onnx_path} ({manifest['bytes']} bytes) and {kind}.json", flush=True)
    return manifest


def _data_description(data: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(data)
    if data.get("synthetic"):
        out["summary"] = (f"SYNTHETIC phantoms only ({data.get('source')}); "
                          "NOT trained on patient images, NOT for clinical use")
    else:
        out["summary"] = str(data.get("source"))
    return out


def reference_output(args) -> Dict[str, Any]:
    """Write ``<kind>-ref-<input>.f32`` files, ``<kind>-ref-probability.f32`` and
    ``<kind>-ref.json`` (names, shapes, seed) into --out. Raw little-endian float32, C order."""
    ckpt = load_checkpoint(args.checkpoint)
    kind = ckpt["kind"]
    model = eval_model(ckpt)
    inputs = example_inputs(ckpt, args.batch, args.seed)
    with torch.no_grad():
        out = model(*inputs)
    os.makedirs(args.out, exist_ok=True)
    desc: Dict[str, Any] = {"kind": kind, "seed": args.seed, "checkpoint": os.path.basename(args.checkpoint),
                            "inputs": [], "torch": torch.__version__}
    for name, t in zip(input_names(kind, int(ckpt.get("n_scales", 2))), inputs):
        fname = f"{kind}-ref-{name}.f32"
        t.numpy().astype("<f4").tofile(os.path.join(args.out, fname))
        desc["inputs"].append({"name": name, "shape": list(t.shape), "file": fname})
    fname = f"{kind}-ref-{OUTPUT_NAME}.f32"
    out.numpy().astype("<f4").tofile(os.path.join(args.out, fname))
    desc["output"] = {"name": OUTPUT_NAME, "shape": list(out.shape), "file": fname}
    with open(os.path.join(args.out, f"{kind}-ref.json"), "w", encoding="utf-8") as fh:
        json.dump(desc, fh, indent=2)
        fh.write("\n")
    print(f"wrote {kind} reference input/output to {args.out}", flush=True)
    return desc


def run_onnx(path: str, feeds: Dict[str, np.ndarray]) -> Tuple[np.ndarray, str]:
    """The graph's first output, by onnxruntime (CPU) when installed, else by onnx_numpy."""
    try:
        import onnxruntime as ort
    except ImportError:
        from . import onnx_numpy

        return onnx_numpy.run(path, feeds)[0], "onnx_numpy"
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0], f"onnxruntime {ort.__version__}"


def check_onnx(args) -> Dict[str, Any]:
    """Compare an exported model with the reference files of `reference-output`."""
    ref_json = os.path.join(args.ref, f"{args.kind}-ref.json")
    with open(ref_json, "r", encoding="utf-8") as fh:
        desc = json.load(fh)
    feeds = {i["name"]: np.fromfile(os.path.join(args.ref, i["file"]), dtype="<f4").reshape(i["shape"])
             for i in desc["inputs"]}
    expected = np.fromfile(os.path.join(args.ref, desc["output"]["file"]), dtype="<f4").reshape(desc["output"]["shape"])
    got, runtime = run_onnx(os.path.join(args.models, f"{args.kind}.onnx"), feeds)
    diff = float(np.abs(got.astype(np.float64) - expected).max())
    result = {"kind": args.kind, "runtime": runtime, "max_abs_diff": diff, "tolerance": args.tolerance,
              "ok": diff < args.tolerance}
    print(json.dumps(result))
    if not result["ok"]:
        raise SystemExit(f"error: {args.kind}.onnx differs from PyTorch by {diff:.3g} (tolerance {args.tolerance})")
    return result
