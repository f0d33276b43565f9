"""Command line: python3 -m training {summary,train,export,import-onnx,reference-output,check-onnx,bench,merge-shards,average,tiny-shards}."""

from __future__ import annotations

import argparse
import json
import sys
from typing import List, Optional


def _positive(name: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}")
        if v < 1:
            raise argparse.ArgumentTypeError(f"{name} must be >= 1, got {v}")
        return v

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m training", description="MSWS-Net and Boundary2Patches training")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("summary", help="parameter counts and ptflops-style MACs (JSON)")
    s.add_argument("--width", type=_positive("--width"), default=64)

    t = sub.add_parser("train", help="train one network on shards")
    t.add_argument("--kind", choices=["la", "scar"], required=True)
    t.add_argument("--shards", required=True, help="shard folder (or a parent with la/ and scar/)")
    t.add_argument("--out", required=True, help="output folder for checkpoints and the JSON log")
    t.add_argument("--width", type=_positive("--width"), default=None, help="base width (default 64, or --init's)")
    t.add_argument("--n-scales", type=_positive("--n-scales"), default=2, help="MSWS-Net encoders (default 2)")
    t.add_argument("--epochs", type=_positive("--epochs"), default=100)
    t.add_argument("--batch", type=_positive("--batch"), default=24)
    t.add_argument("--lr", type=float, default=1e-4)
    t.add_argument("--patience", type=_positive("--patience"), default=5)
    t.add_argument("--max-steps", type=int, default=0, help="stop after this many optimiser steps (0: no limit)")
    t.add_argument("--max-minutes", type=float, default=0,
                   help="wall-clock budget: finish the epoch in progress early and stop (0: no limit)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--amp", action="store_true", help="fp16 autocast with gradient scaling (CUDA only)")
    t.add_argument("--no-prior-bias", action="store_true",
                   help="keep PyTorch's default output bias instead of starting at the foreground prior")
    t.add_argument("--init", default=None, help="checkpoint to start from (task-2 LA model -> task-1 fine-tuning)")
    t.add_argument("--crop", type=int, default=0,
                   help="LA: train on square crops of this side around the LA (CPU-friendly; 0: whole slices)")
    t.add_argument("--val-samples", type=int, default=0,
                   help="validate on this many evenly spaced validation samples (0: all)")
    t.add_argument("--workers", type=int, default=None, help="DataLoader workers (default 4 on CUDA, 0 on CPU)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--keep-epochs", action="store_true",
                   help="also keep every epoch's checkpoint (<kind>-epochNNN.pt), to choose one by the whole method")
    t.add_argument("--print-every", type=_positive("--print-every"), default=50)

    e = sub.add_parser("export", help="ONNX (opset 17) + manifest")
    e.add_argument("--kind", choices=["la", "scar"], default=None)
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True)

    i = sub.add_parser("import-onnx", help="an exported model (e.g. models/la.onnx) back into a checkpoint for --init")
    i.add_argument("onnx", help="the .onnx file; its manifest (.json beside it) gives kind, width and inputs")
    i.add_argument("--out", required=True, help="checkpoint file to write")

    r = sub.add_parser("reference-output", help="deterministic input and PyTorch output as raw float32")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--batch", type=_positive("--batch"), default=2)
    r.add_argument("--out", required=True)

    c = sub.add_parser("check-onnx", help="compare an exported model with reference-output files")
    c.add_argument("--kind", choices=["la", "scar"], required=True)
    c.add_argument("--models", required=True, help="folder with <kind>.onnx")
    c.add_argument("--ref", required=True, help="folder written by reference-output")
    c.add_argument("--tolerance", type=float, default=1e-4)

    b = sub.add_parser("bench", help="training-step and inference throughput on random data (JSON)")
    b.add_argument("--kind", choices=["la", "scar"], default="la")
    b.add_argument("--width", type=_positive("--width"), default=64)
    b.add_argument("--batch", type=_positive("--batch"), default=24)
    b.add_argument("--steps", type=_positive("--steps"), default=10)
    b.add_argument("--infer", type=_positive("--infer"), default=88, help="inference batch (88 slices / 1024 patches)")
    b.add_argument("--chunk", type=_positive("--chunk"), default=32, help="inference batch size")
    b.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    b.add_argument("--amp", action="store_true")

    m = sub.add_parser("merge-shards", help="concatenate shard folders (e.g. written by parallel `lascar dataset` jobs)")
    m.add_argument("--out", required=True, help="output folder (gets la/ and scar/)")
    m.add_argument("--val", default=None, metavar="REGEX",
                   help="set the split: cases whose id matches REGEX validate, all others train, none test "
                        "(the held-out phantoms are the test set); default: the 70/20/10 split by case")
    m.add_argument("inputs", nargs="+", help="shard folders, each with la/ and scar/")

    a = sub.add_parser("average", help="weighted mean of checkpoints of one network (model soup / WiSE-FT)")
    a.add_argument("checkpoints", nargs="+", help="two or more checkpoints of the same network")
    a.add_argument("--weights", default=None, help="comma-separated, one per checkpoint (default: equal)")
    a.add_argument("--out", required=True, help="checkpoint file to write")

    ts = sub.add_parser("tiny-shards", help="tiny synthetic shards for smoke tests")
    ts.add_argument("--out", required=True)
    ts.add_argument("--seed", type=int, default=0)
    ts.add_argument("--cases", type=_positive("--cases"), default=4)
    ts.add_argument("--per-case", type=_positive("--per-case"), default=3)
    ts.add_argument("--la-size", type=_positive("--la-size"), default=64, help="LA slice side (multiple of 32)")
    ts.add_argument("--patch", type=_positive("--patch"), default=16, help="scar patch side (multiple of 4)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "summary":
        from .summary import summary

        print(json.dumps(summary(args.width), indent=2))
    elif args.command == "train":
        from .shards import ShardError
        from .train import train

        try:
            train(args)
        except ShardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "merge-shards":
        from .merge import merge_shards
        from .shards import ShardError

        try:
            for kind in ("la", "scar"):
                print(merge_shards(args.inputs, args.out, kind, val_pattern=args.val), flush=True)
        except ShardError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    elif args.command == "export":
        from .export import export

        export(args)
    elif args.command == "import-onnx":
        from .import_onnx import check_import, import_onnx
        from .train import save_checkpoint

        ckpt = import_onnx(args.onnx)
        diff = check_import(ckpt, args.onnx)
        save_checkpoint(args.out, ckpt)
        print(json.dumps({"checkpoint": args.out, "kind": ckpt["kind"], "width": ckpt["width"],
                          "batchnorm": ckpt["batchnorm"], "max_abs_difference": diff}))
    elif args.command == "reference-output":
        from .export import reference_output

        reference_output(args)
    elif args.command == "check-onnx":
        from .export import check_onnx

        check_onnx(args)
    elif args.command == "bench":
        from .bench import bench

        print(json.dumps(bench(args), indent=2))
    elif args.command == "average":
        from .average import average_checkpoints
        from .train import save_checkpoint

        weights = None
        if args.weights is not None:
            try:
                weights = [float(x) for x in args.weights.split(",")]
            except ValueError:
                print(f"error: --weights must be numbers separated by commas, got {args.weights!r}", file=sys.stderr)
                return 2
        ckpt = average_checkpoints(args.checkpoints, weights)
        save_checkpoint(args.out, ckpt)
        print(json.dumps({"checkpoint": args.out, "averaged_from": ckpt["averaged_from"]}))
    elif args.command == "tiny-shards":
        from .synthetic import make_tiny_shards

        print(json.dumps(make_tiny_shards(args.out, cases=args.cases, per_case=args.per_case, la_size=args.la_size,
                                          patch=args.patch, seed=args.seed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
