"""`python3 -m training train`: the paper's recipe (Adam 0.9/0.99, lr 1e-4, batch 24, up to 100
epochs, early stopping with patience 5 on validation loss and Dice), on CPU or CUDA."""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader

from .augment import augment_la, augment_scar, crop_la
from .losses import dice_from_counts, loss_for
from .models import build_model, pyramid
from .provenance import portable_path, scrub_absolute_paths
from .shards import ShardDataset, check_half_scale, open_shards, sample_indices, split_cases

CHECKPOINT_FORMAT = "lascar-training-checkpoint"
CHECKPOINT_VERSION = 1


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda asked for, but torch.cuda.is_available() is False")
    if name not in ("cpu", "cuda"):
        raise SystemExit(f"error: --device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def load_checkpoint(path: str) -> Dict[str, Any]:
    if not os.path.isfile(path):
        raise SystemExit(f"error: checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except TypeError:  # a torch without weights_only
        ckpt = torch.load(path, map_location="cpu")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "meta" not in ckpt:
        raise SystemExit(f"error: {path} is not a lascar training checkpoint")
    meta = json.loads(ckpt["meta"])
    meta["state_dict"] = ckpt["state_dict"]
    return meta


def save_checkpoint(path: str, ckpt: Dict[str, Any]) -> None:
    """Metadata as a JSON string beside the CPU state dict: torch 1.13's weights_only loader
    cannot unpickle floats, and weights_only loading is what we want on every version."""
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    payload = {
        "format": CHECKPOINT_FORMAT,
        "meta": json.dumps(meta),
        "state_dict": {k: v.detach().to("cpu").contiguous() for k, v in ckpt["state_dict"].items()},
    }
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def model_inputs(kind: str, image: torch.Tensor, n_scales: int = 2) -> Tuple[torch.Tensor, ...]:
    """Network inputs from the (augmented) image batch: LA gets (full, half = 2x2 avg pool, ...)."""
    if kind == "la":
        return tuple(pyramid(image, n_scales))
    return (image,)


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def _grad_scaler(enabled: bool):
    scaler_cls = getattr(torch.amp, "GradScaler", None) if hasattr(torch, "amp") else None
    if scaler_cls is not None:
        return scaler_cls("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def evaluate(model: torch.nn.Module, loader: DataLoader, kind: str, device: torch.device, amp: bool,
             channels_last: bool, n_scales: int = 2) -> Dict[str, float]:
    """Validation loss (mean over batches) and Dice at threshold 0.5: per case (slices or patches
    of a case pooled) averaged over cases, and pooled over the whole set."""
    loss_fn = loss_for(kind)
    model.eval()
    losses: List[float] = []
    per_case: Dict[int, List[int]] = {}
    with torch.no_grad():
        for image, label, case in loader:
            image = image.to(device)
            label = label.to(device)
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp):
                logits = model(*model_inputs(kind, image, n_scales))
            prob = torch.sigmoid(logits.float())
            losses.append(float(loss_fn(prob, label)))
            pred = prob > 0.5  # the product thresholds strictly (core: p > 0.5)
            truth = label >= 0.5
            dims = tuple(range(1, pred.dim()))
            tps = (pred & truth).sum(dim=dims).tolist()  # one device sync per batch
            fps = (pred & ~truth).sum(dim=dims).tolist()
            fns = (~pred & truth).sum(dim=dims).tolist()
            for i, c in enumerate(case.tolist()):
                acc = per_case.setdefault(int(c), [0, 0, 0])
                acc[0] += int(tps[i])
                acc[1] += int(fps[i])
                acc[2] += int(fns[i])
    tot = [sum(v[k] for v in per_case.values()) for k in range(3)]
    case_dice = [dice_from_counts(*v) for v in per_case.values()]
    return {
        "loss": float(np.mean(losses)) if losses else float("nan"),
        "dice": float(np.mean(case_dice)) if case_dice else float("nan"),
        "dice_pooled": dice_from_counts(*tot),
    }


def foreground_prior(shards, indices: np.ndarray, samples: int = 256) -> float:
    """Share of foreground pixels in (up to `samples` evenly spaced) training labels."""
    if len(indices) == 0:
        return 0.5
    pick = indices[np.linspace(0, len(indices) - 1, min(samples, len(indices))).astype(np.int64)]
    labels = shards.arrays["label"]
    return float(np.mean([np.asarray(labels[int(j)], dtype=np.float32).mean() for j in pick]))


def init_output_prior(model: torch.nn.Module, prior: float) -> None:
    """Start the output layer at the foreground prior, logit(p), instead of p = 0.5.

    The paper and reference are silent on initialisation. The LA is ~1 % of a 640 x 640 canvas: at
    p = 0.5 everywhere the soft false positives dominate the Tversky index (loss ~0.97) and the
    first epochs are spent pushing background down. Starting at the prior (as RetinaNet does for
    rare classes) removes that phase; the architecture and parameter count are unchanged."""
    p = min(max(prior, 1e-4), 0.5)
    head = getattr(model, "head", None)
    if not isinstance(head, torch.nn.Conv2d) or head.bias is None:
        raise ValueError("model has no 1x1 output convolution 'head' with a bias")
    with torch.no_grad():
        head.bias.fill_(math.log(p / (1 - p)))


def set_train_mode(model: torch.nn.Module, frozen_batchnorm: bool) -> None:
    """model.train(), except that BatchNorms stay in eval mode where they are frozen (a model
    imported from ONNX has them folded into its convolutions: batch statistics would undo that).
    Their running statistics stay fixed; their scale and shift still learn, like any affine layer."""
    model.train()
    if frozen_batchnorm:
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def crop_then_augment(image: torch.Tensor, label: torch.Tensor, crop: int, g: torch.Generator, augment):
    """LA crop training: cut a crop a quarter larger than ``crop`` around the LA, augment it, then
    keep the centre ``crop`` x ``crop``: the affine's zero fill mostly falls in the margin (at the
    extremes, 10 degrees with scale 0.9 and full translation, thin wedges reach the corners)."""
    h = image.shape[-1]
    pre = min(h, (crop * 5 // 4 + 1) // 2 * 2)
    m = (pre - crop) // 2 // 2 * 2
    image, label = crop_la(image, label, pre, g, margin=m + crop // 8)
    image, label = augment(image, label, g)
    return image[..., m:m + crop, m:m + crop].contiguous(), label[..., m:m + crop, m:m + crop].contiguous()


def train(args) -> Dict[str, Any]:
    kind: str = args.kind
    device = pick_device(args.device)
    if device.type == "cpu" and hasattr(os, "sched_getaffinity") and "OMP_NUM_THREADS" not in os.environ:
        # Debian's torch starts with one OpenMP thread here; use the cores this process may run on
        # (an explicit OMP_NUM_THREADS, e.g. for two trainings side by side, wins).
        torch.set_num_threads(max(torch.get_num_threads(), len(os.sched_getaffinity(0))))
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    shards = open_shards(args.shards, kind)
    check_half_scale(shards)
    split = split_cases(shards.case_ids, shards.manifest.get("cases"))
    if not split["val"]:
        raise SystemExit(f"error: {shards.root}: needs at least two cases (one for validation), has {len(shards.case_ids)}")
    train_idx = sample_indices(shards, split["train"])
    val_idx = sample_indices(shards, split["val"])
    val_samples = getattr(args, "val_samples", 0) or 0
    if 0 < val_samples < len(val_idx):  # evenly spaced, so every validation case keeps slices
        val_idx = val_idx[np.linspace(0, len(val_idx) - 1, val_samples).round().astype(np.int64)]
    crop = getattr(args, "crop", 0) or 0
    if crop and kind != "la":
        raise SystemExit("error: --crop applies to the LA network only (scar patches are already 64 x 64)")

    init: Optional[Dict[str, Any]] = None
    width = args.width
    n_scales = args.n_scales
    if args.init:
        init = load_checkpoint(args.init)
        if init["kind"] != kind:
            raise SystemExit(f"error: --init {args.init} is a {init['kind']!r} model, not {kind!r}")
        if width is not None and width != init["width"]:
            raise SystemExit(f"error: --width {width} differs from --init checkpoint width {init['width']}")
        width = int(init["width"])
        n_scales = int(init.get("n_scales", n_scales))
        if init.get("preprocessing") != shards.preprocessing:
            print(f"warning: --init was trained on preprocessing {init.get('preprocessing')!r}, "
                  f"these shards are {shards.preprocessing!r}", file=sys.stderr)
    if width is None:
        width = 64
    if kind == "la":
        _, _, h, w = shards.arrays["full"].shape
        least = 32 << (n_scales - 1)
        if h < least or w < least:
            raise SystemExit(f"error: {shards.root}: {h} x {w} slices are too small for {n_scales} MSWS-Net "
                             f"scales (needs at least {least} x {least})")
        if crop and (crop % least or crop > min(h, w)):
            raise SystemExit(f"error: --crop {crop} must be a multiple of {least} and at most {min(h, w)}")

    model = build_model(kind, width, n_scales=n_scales)
    frozen_bn = init is not None and init.get("batchnorm") == "folded"
    prior = None
    if init is not None:
        model.load_state_dict(init["state_dict"])
    elif not getattr(args, "no_prior_bias", False):
        prior = foreground_prior(shards, train_idx)
        init_output_prior(model, prior)
    channels_last = device.type == "cuda"
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    amp = bool(args.amp) and device.type == "cuda"
    if args.amp and device.type != "cuda":
        print("note: --amp only applies on CUDA; training in float32", file=sys.stderr)

    workers = args.workers if args.workers is not None else (4 if device.type == "cuda" else 0)
    pin = device.type == "cuda"
    train_ds = ShardDataset(shards.root, kind, train_idx)
    val_ds = ShardDataset(shards.root, kind, val_idx)
    loader_gen = torch.Generator()
    loader_gen.manual_seed(args.seed)
    train_loader = DataLoader(train_ds, batch_size=args.batch, shuffle=True, drop_last=len(train_ds) > args.batch,
                              num_workers=workers, pin_memory=pin, generator=loader_gen,
                              persistent_workers=workers > 0)
    val_loader = DataLoader(val_ds, batch_size=args.batch, shuffle=False, num_workers=workers, pin_memory=pin,
                            persistent_workers=workers > 0)

    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    scaler = _grad_scaler(amp)
    loss_fn = loss_for(kind)
    aug_gen = torch.Generator()
    aug_gen.manual_seed(args.seed + 1)
    augment = augment_la if kind == "la" else augment_scar

    os.makedirs(args.out, exist_ok=True)
    # Paths are recorded relative to the folder holding the run (a shipped log or manifest must not
    # carry the training machine's temporary folders): shards/all, not /tmp/.../shards/all.
    run_base = os.path.dirname(os.path.abspath(args.out))
    init_desc = ""
    if args.init:
        init_desc = portable_path(args.init, run_base)
        if init is not None and init.get("init"):
            init_desc += f" ({scrub_absolute_paths(str(init['init']))})"  # where that checkpoint came from
    keep_epochs = bool(getattr(args, "keep_epochs", False))
    best_path = os.path.join(args.out, f"{kind}-best.pt")
    last_path = os.path.join(args.out, f"{kind}-last.pt")
    log_path = os.path.join(args.out, f"{kind}-train-log.json")
    log: Dict[str, Any] = {
        "kind": kind,
        "width": width,
        "n_scales": n_scales if kind == "la" else None,
        "device": str(device),
        "amp": amp,
        "torch": torch.__version__,
        "shards": portable_path(shards.root, run_base),
        "data": shards.description,
        "preprocessing": shards.preprocessing,
        "split": split,
        "samples": {"train": len(train_ds), "val": len(val_ds)},
        "init": init_desc or None,
        "batchnorm": "folded, frozen (imported from ONNX)" if frozen_bn else "trained",
        "crop": crop or None,
        "output_prior": prior,
        "hyperparameters": {"optimizer": "Adam", "betas": [0.9, 0.99], "lr": args.lr, "batch": args.batch,
                            "max_epochs": args.epochs, "patience": args.patience, "loss": {
                                "name": "focal Tversky, (1 - TI) ** gamma",
                                "alpha": loss_fn.alpha, "beta": loss_fn.beta, "gamma": loss_fn.gamma}},
        "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "epochs": [],
    }
    print(f"training {kind} width {width} on {device}{' (amp fp16)' if amp else ''}: "
          f"{len(train_ds)} train / {len(val_ds)} val samples, cases {len(split['train'])}/{len(split['val'])}/{len(split['test'])}",
          flush=True)

    best_loss = math.inf
    best_dice = -math.inf
    best_ckpt_dice = -math.inf
    since_improved = 0
    steps = 0
    stop_reason = "max epochs"
    # A wall-clock budget (a lent GPU is held for minutes, not hours): the epoch in progress is cut
    # short, validated and checkpointed, so the best model so far is always on disk.
    max_minutes = getattr(args, "max_minutes", 0) or 0
    deadline = time.time() + 60 * max_minutes if max_minutes > 0 else None
    out_of_time = False
    for epoch in range(1, args.epochs + 1):
        set_train_mode(model, frozen_bn)
        t0 = time.time()
        running = 0.0
        nb = 0
        for image, label, _case in train_loader:
            image = image.to(device, non_blocking=True)
            label = label.to(device, non_blocking=True)
            if crop:
                image, label = crop_then_augment(image, label, crop, aug_gen, augment)
            else:
                image, label = augment(image, label, aug_gen)
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with _autocast(device, amp):
                logits = model(*model_inputs(kind, image, n_scales))
            loss = loss_fn(torch.sigmoid(logits.float()), label)
            if not torch.isfinite(loss):
                raise SystemExit(f"error: non-finite training loss at epoch {epoch}, step {steps + 1}")
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            running += float(loss.detach())
            nb += 1
            steps += 1
            if steps % args.print_every == 0:
                print(f"  epoch {epoch} step {steps} loss {running / nb:.4f}", flush=True)
            if args.max_steps and steps >= args.max_steps:
                break
            if deadline is not None and time.time() >= deadline:
                out_of_time = True
                break
        val = evaluate(model, val_loader, kind, device, amp, channels_last, n_scales)
        improved_loss = val["loss"] < best_loss - 1e-6
        improved_dice = val["dice"] > best_dice + 1e-6
        best_loss = min(best_loss, val["loss"])
        best_dice = max(best_dice, val["dice"])
        since_improved = 0 if (improved_loss or improved_dice) else since_improved + 1
        entry = {"epoch": epoch, "steps": steps, "train_loss": running / max(nb, 1), "val_loss": val["loss"],
                 "val_dice": val["dice"], "val_dice_pooled": val["dice_pooled"], "seconds": round(time.time() - t0, 2)}
        ckpt = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "kind": kind,
            "width": width,
            "n_scales": n_scales,
            "state_dict": model.state_dict(),
            "epoch": epoch,
            "steps": steps,
            "validation": {"loss": val["loss"], "dice": val["dice"], "dice_pooled": val["dice_pooled"]},
            "preprocessing": shards.preprocessing,
            "data": shards.description,
            "input_shapes": shards.input_shapes(),
            "split": split,
            "init": init_desc,
            **({"batchnorm": "folded"} if frozen_bn else {}),
            "torch": torch.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        }
        # Best = highest validation Dice (the first epoch on a tie): what the product is judged on.
        is_best = val["dice"] > best_ckpt_dice
        if is_best:
            best_ckpt_dice = val["dice"]
            save_checkpoint(best_path, ckpt)
        save_checkpoint(last_path, ckpt)
        if keep_epochs:  # candidates for a choice by the whole method (scripts/train-models.sh)
            save_checkpoint(os.path.join(args.out, f"{kind}-epoch{epoch:03d}.pt"), ckpt)
        entry["best"] = is_best
        log["epochs"].append(entry)
        print(f"epoch {epoch}: train loss {entry['train_loss']:.4f}  val loss {val['loss']:.4f}  "
              f"val Dice {val['dice']:.4f} (pooled {val['dice_pooled']:.4f})  {entry['seconds']} s"
              f"{'  * best' if is_best else ''}", flush=True)
        _write_json(log_path, log)
        if args.max_steps and steps >= args.max_steps:
            stop_reason = f"max steps ({args.max_steps})"
            break
        if out_of_time:
            stop_reason = f"time budget ({max_minutes} min)"
            break
        if since_improved >= args.patience:
            stop_reason = f"early stop: neither validation loss nor Dice improved for {args.patience} epochs"
            break
    log["stopped"] = stop_reason
    log["best"] = {"val_dice": best_ckpt_dice, "checkpoint": os.path.basename(best_path)}
    log["finished"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _write_json(log_path, log)
    print(f"done ({stop_reason}); best checkpoint {best_path} (val Dice {best_ckpt_dice:.4f})", flush=True)
    return log


def _write_json(path: str, obj: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
