"""`python3 -m training merge-shards`: concatenate shard folders of one kind into one.

`lascar dataset` is single-threaded; on a many-core host the data is prepared by several jobs in
parallel, each writing its own shard folder, and merged here. Case ids must be unique across the
inputs (they are folder paths, so jobs writing to different folders never collide); per-sample case
indices are shifted so that they index the merged case list.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .shards import FORMAT, FORMAT_VERSION, LAYOUT, ShardError, open_shards, resolve_dir


def merge_shards(inputs: Sequence[str], out: str, kind: str, val_pattern: Optional[str] = None) -> str:
    """``val_pattern``: cases whose id matches it (re.search) get split "val", every other case
    "train" and none "test" (how the LA fine-tuning was split: a chosen phantom of each validation
    batch seed; the held-out phantoms are the test set)."""
    opened = [open_shards(resolve_dir(path, kind), kind) for path in inputs]
    if not opened:
        raise ShardError("no input shard folders")
    first = opened[0]
    for s in opened[1:]:
        if s.preprocessing != first.preprocessing:
            raise ShardError(f"{s.root}: preprocessing {s.preprocessing!r} differs from {first.root}'s "
                             f"{first.preprocessing!r}")
        for role in LAYOUT[kind]:
            if list(s.arrays[role].shape[1:]) != list(first.arrays[role].shape[1:]):
                raise ShardError(f"{s.root}: {role} samples have shape {list(s.arrays[role].shape[1:])}, "
                                 f"{first.root} has {list(first.arrays[role].shape[1:])}")
    dest = os.path.join(out, kind)
    os.makedirs(dest, exist_ok=True)
    cases: List[Dict[str, Any]] = []
    offsets: List[int] = []
    for s in opened:
        offsets.append(len(cases))
        cases.extend(s.manifest["cases"])
    ids = [c["id"] for c in cases]
    if len(set(ids)) != len(ids):
        raise ShardError("case ids repeat across the inputs; merge shards of different cases only")
    if val_pattern is not None:
        rx = re.compile(val_pattern)
        cases = [{**c, "split": "val" if rx.search(c["id"]) else "train"} for c in cases]
        n_val = sum(c["split"] == "val" for c in cases)
        if not 0 < n_val < len(cases):
            raise ShardError(f"--val {val_pattern!r} matches {n_val} of {len(cases)} cases; "
                             "needs at least one validation and one training case")
    tensors: Dict[str, Any] = {}
    count = sum(s.count for s in opened)
    for role, (fname, dtype) in LAYOUT[kind].items():
        with open(os.path.join(dest, fname), "wb") as fh:
            for s, offset in zip(opened, offsets):
                if role == "case":
                    (np.asarray(s.arrays["case"], dtype="<i4") + offset).astype("<i4").tofile(fh)
                else:
                    with open(os.path.join(s.root, s.manifest["tensors"][role]["file"]), "rb") as src:
                        shutil.copyfileobj(src, fh, 16 << 20)
        tensors[role] = {"file": fname, "dtype": dtype, "shape": [count] + list(first.arrays[role].shape[1:])}
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "kind": kind,
        "preprocessing": first.preprocessing,
        "source": first.manifest.get("source", "unspecified") if len(opened) == 1 else
        "; ".join(sorted({str(s.manifest.get("source", "unspecified")) for s in opened})),
        "synthetic": all(bool(s.manifest.get("synthetic", False)) for s in opened),
        "count": count,
        "cases": cases,
        "tensors": tensors,
    }
    with open(os.path.join(dest, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")
    return f"{kind}: {len(opened)} folders, {len(cases)} cases, {count} samples -> {dest}"
