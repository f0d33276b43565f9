"""Training shards: the network inputs written by the product's own preprocessing
(packages/core, `lascar dataset`), read here with numpy.memmap. The format is specified in
training/SHARDS.md; this module is its reader (and a writer, used by tests and by anyone who
wants to produce shards from Python for experiments).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset

FORMAT = "lascar-shards"
FORMAT_VERSION = 1

# Tensor roles per kind: role -> (file name, dtype, shape after N)
LAYOUT: Dict[str, Dict[str, Tuple[str, str]]] = {
    "la": {
        "full": ("la-full.f32", "float32"),
        "half": ("la-half.f32", "float32"),
        "label": ("la-label.u8", "uint8"),
        "case": ("la-case.i32", "int32"),
    },
    "scar": {
        "patches": ("scar-patches.f32", "float32"),
        "label": ("scar-label.u8", "uint8"),
        "case": ("scar-case.i32", "int32"),
    },
}

SPLIT_FRACTIONS = (0.7, 0.2, 0.1)
SPLITS = ("train", "val", "test")


class ShardError(ValueError):
    """A shard folder that does not follow training/SHARDS.md."""


@dataclass
class Shards:
    """An opened shard folder (arrays are read-only memmaps)."""

    root: str
    manifest: Dict[str, Any]
    kind: str
    arrays: Dict[str, np.ndarray]
    case_ids: List[str]

    @property
    def count(self) -> int:
        return int(self.arrays["case"].shape[0])

    @property
    def preprocessing(self) -> str:
        return str(self.manifest["preprocessing"])

    @property
    def description(self) -> Dict[str, Any]:
        return {
            "source": str(self.manifest.get("source", "unspecified")),
            "synthetic": bool(self.manifest.get("synthetic", False)),
            "cases": len(self.case_ids),
            "samples": self.count,
        }

    def input_shapes(self) -> Dict[str, List[int]]:
        """Per-sample shapes of the network inputs, keyed by ONNX input name."""
        if self.kind == "la":
            return {
                "image_full": list(self.arrays["full"].shape[1:]),
                "image_half": list(self.arrays["half"].shape[1:]),
            }
        return {"patches": list(self.arrays["patches"].shape[1:])}


def resolve_dir(path: str, kind: str) -> str:
    """A shard folder, or a parent holding `<kind>/manifest.json` (what `lascar dataset` writes)."""
    if os.path.isfile(os.path.join(path, "manifest.json")):
        return path
    sub = os.path.join(path, kind)
    if os.path.isfile(os.path.join(sub, "manifest.json")):
        return sub
    raise ShardError(f"no manifest.json in {path} (nor in {sub})")


def open_shards(path: str, kind: str) -> Shards:
    root = resolve_dir(path, kind)
    mpath = os.path.join(root, "manifest.json")
    try:
        with open(mpath, "r", encoding="utf-8") as fh:
            manifest = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ShardError(f"{mpath}: not valid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise ShardError(f"{mpath}: 'format' is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("formatVersion") != FORMAT_VERSION:
        raise ShardError(
            f"{mpath}: 'formatVersion' is {manifest.get('formatVersion')!r}, this reader knows {FORMAT_VERSION}"
        )
    if manifest.get("kind") != kind:
        raise ShardError(f"{mpath}: 'kind' is {manifest.get('kind')!r}, but {kind!r} was asked for")
    if not isinstance(manifest.get("preprocessing"), str) or not manifest["preprocessing"]:
        raise ShardError(f"{mpath}: 'preprocessing' (the preprocessing version string) is missing")
    cases = manifest.get("cases")
    if not isinstance(cases, list) or not cases:
        raise ShardError(f"{mpath}: 'cases' must be a non-empty list")
    case_ids: List[str] = []
    for i, c in enumerate(cases):
        if not isinstance(c, dict) or not isinstance(c.get("id"), str):
            raise ShardError(f"{mpath}: cases[{i}] must be an object with a string 'id'")
        if "split" in c and c["split"] not in SPLITS:
            raise ShardError(f"{mpath}: cases[{i}].split is {c['split']!r}, expected one of {SPLITS}")
        case_ids.append(c["id"])
    if len(set(case_ids)) != len(case_ids):
        raise ShardError(f"{mpath}: case ids are not unique")
    count = manifest.get("count")
    if not isinstance(count, int) or count < 1:
        raise ShardError(f"{mpath}: 'count' must be a positive integer")
    tensors = manifest.get("tensors")
    if not isinstance(tensors, dict):
        raise ShardError(f"{mpath}: 'tensors' must be an object")

    arrays: Dict[str, np.ndarray] = {}
    for role, (default_file, dtype) in LAYOUT[kind].items():
        spec = tensors.get(role)
        if not isinstance(spec, dict):
            raise ShardError(f"{mpath}: tensors.{role} is missing")
        fname = spec.get("file", default_file)
        if spec.get("dtype") != dtype:
            raise ShardError(f"{mpath}: tensors.{role}.dtype is {spec.get('dtype')!r}, expected {dtype!r}")
        shape = spec.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ShardError(f"{mpath}: tensors.{role}.shape must be a list of positive integers")
        if shape[0] != count:
            raise ShardError(f"{mpath}: tensors.{role}.shape[0] = {shape[0]} but count = {count}")
        fpath = os.path.join(root, fname)
        if not os.path.isfile(fpath):
            raise ShardError(f"{fpath}: missing (tensors.{role})")
        expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
        actual = os.path.getsize(fpath)
        if actual != expected:
            raise ShardError(
                f"{fpath}: {actual} bytes, but shape {shape} {dtype} needs {expected} bytes"
            )
        arrays[role] = np.memmap(fpath, dtype=np.dtype(dtype).newbyteorder("<"), mode="r", shape=tuple(shape))

    _check_shapes(mpath, kind, arrays)
    case_idx = np.asarray(arrays["case"])
    if case_idx.min() < 0 or case_idx.max() >= len(case_ids):
        raise ShardError(
            f"{mpath}: case index values must lie in 0..{len(case_ids) - 1}, found {case_idx.min()}..{case_idx.max()}"
        )
    return Shards(root=root, manifest=manifest, kind=kind, arrays=arrays, case_ids=case_ids)


def _check_shapes(mpath: str, kind: str, a: Dict[str, np.ndarray]) -> None:
    if a["case"].ndim != 1:
        raise ShardError(f"{mpath}: tensors.case must have shape [N]")
    if kind == "la":
        f, h, y = a["full"].shape, a["half"].shape, a["label"].shape
        if len(f) != 4 or f[1] != 1:
            raise ShardError(f"{mpath}: tensors.full must be [N, 1, H, W], got {list(f)}")
        if f[2] % 32 or f[3] % 32:
            raise ShardError(f"{mpath}: tensors.full H and W must be multiples of 32, got {f[2]} x {f[3]}")
        if list(h) != [f[0], 1, f[2] // 2, f[3] // 2]:
            raise ShardError(f"{mpath}: tensors.half must be [N, 1, H/2, W/2] = {[f[0], 1, f[2] // 2, f[3] // 2]}, got {list(h)}")
        if list(y) != list(f):
            raise ShardError(f"{mpath}: tensors.label must have the shape of tensors.full {list(f)}, got {list(y)}")
    else:
        p, y = a["patches"].shape, a["label"].shape
        if len(p) != 4 or p[1] != 3:
            raise ShardError(f"{mpath}: tensors.patches must be [N, 3, H, W], got {list(p)}")
        if p[2] % 4 or p[3] % 4:
            raise ShardError(f"{mpath}: tensors.patches H and W must be multiples of 4, got {p[2]} x {p[3]}")
        if list(y) != [p[0], 1, p[2], p[3]]:
            raise ShardError(f"{mpath}: tensors.label must be [N, 1, H, W] = {[p[0], 1, p[2], p[3]]}, got {list(y)}")


def check_half_scale(shards: Shards, sample: int = 0, tol: float = 1e-3) -> None:
    """The stored half scale must be the 2 x 2 average pooling of the full scale: training
    recomputes it after augmentation, so any other definition would train on one input and
    infer on another."""
    if shards.kind != "la":
        return
    full = np.asarray(shards.arrays["full"][sample, 0], dtype=np.float64)
    half = np.asarray(shards.arrays["half"][sample, 0], dtype=np.float64)
    h, w = full.shape
    pooled = full.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    diff = float(np.abs(pooled - half).max())
    if diff > tol:
        raise ShardError(
            f"{shards.root}: la-half.f32 sample {sample} is not the 2 x 2 average pooling of la-full.f32 "
            f"(max difference {diff:.4g}); the preprocessing versions disagree"
        )


def split_cases(case_ids: Sequence[str], manifest_cases: Optional[Sequence[Dict[str, Any]]] = None,
                seed: str = "lascar-split-1") -> Dict[str, List[str]]:
    """70/20/10 split by case, deterministic.

    If every manifest case carries a 'split', that is used as is. Otherwise cases are ordered by
    sha256(seed + id) (independent of file order) and cut at round(0.7 N) and round(0.9 N), with at
    least one training case and, when there are two or more cases, at least one validation case.
    """
    if manifest_cases and all("split" in c for c in manifest_cases):
        out: Dict[str, List[str]] = {s: [] for s in SPLITS}
        for c in manifest_cases:
            out[c["split"]].append(c["id"])
        if not out["train"]:
            raise ShardError("the manifest's split has no training case")
        return out
    order = sorted(case_ids, key=lambda cid: hashlib.sha256((seed + cid).encode("utf-8")).hexdigest())
    n = len(order)
    n_train = max(1, int(round(SPLIT_FRACTIONS[0] * n)))
    n_val = int(round((SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]) * n)) - n_train
    if n >= 2:
        n_train = min(n_train, n - 1)
        n_val = max(1, min(n_val, n - n_train))
    else:
        n_val = 0
    return {
        "train": order[:n_train],
        "val": order[n_train:n_train + n_val],
        "test": order[n_train + n_val:],
    }


def sample_indices(shards: Shards, ids: Sequence[str]) -> np.ndarray:
    wanted = {shards.case_ids.index(cid) for cid in ids}
    case = np.asarray(shards.arrays["case"])
    return np.nonzero(np.isin(case, list(wanted)))[0]


class ShardDataset(Dataset):
    """Samples of one split. Items: (inputs tuple, label float tensor, case index).

    LA items are (full,), label: the half scale is recomputed from the (augmented) full scale in
    the training loop, so it is not read here. Scar items are (patches,), label.
    Memmaps are reopened lazily in each DataLoader worker.
    """

    def __init__(self, root: str, kind: str, indices: np.ndarray) -> None:
        self.root = root
        self.kind = kind
        self.indices = np.asarray(indices, dtype=np.int64)
        self._shards: Optional[Shards] = None

    def _open(self) -> Shards:
        if self._shards is None:
            self._shards = open_shards(self.root, self.kind)
        return self._shards

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, i: int):
        s = self._open()
        j = int(self.indices[i])
        image_role = "full" if self.kind == "la" else "patches"
        image = torch.from_numpy(np.array(s.arrays[image_role][j], dtype=np.float32))
        label = torch.from_numpy(np.array(s.arrays["label"][j], dtype=np.float32))
        if not torch.isfinite(image).all():
            raise ShardError(f"{s.root}: sample {j} ({s.case_ids[int(s.arrays['case'][j])]}) has non-finite values")
        return image, label, int(s.arrays["case"][j])

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_shards"] = None
        return state


def write_shards(out: str, kind: str, arrays: Dict[str, np.ndarray], case_ids: Sequence[str],
                 preprocessing: str, source: str, synthetic: bool,
                 splits: Optional[Dict[str, str]] = None) -> str:
    """Write a shard folder (the format `lascar dataset` writes). ``arrays`` holds the roles of
    LAYOUT[kind]; 'case' holds indices into ``case_ids``."""
    os.makedirs(out, exist_ok=True)
    tensors: Dict[str, Any] = {}
    count = int(arrays["case"].shape[0])
    for role, (fname, dtype) in LAYOUT[kind].items():
        arr = np.ascontiguousarray(arrays[role], dtype=np.dtype(dtype).newbyteorder("<"))
        arr.tofile(os.path.join(out, fname))
        tensors[role] = {"file": fname, "dtype": dtype, "shape": [int(d) for d in arr.shape]}
    cases = []
    for cid in case_ids:
        entry: Dict[str, Any] = {"id": cid}
        if splits is not None:
            entry["split"] = splits[cid]
        cases.append(entry)
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "kind": kind,
        "preprocessing": preprocessing,
        "source": source,
        "synthetic": synthetic,
        "count": count,
        "cases": cases,
        "tensors": tensors,
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return out
