"""`python3 -m training bench`: training-step and inference throughput on random data (no shards),
to size runs on a given machine. Prints JSON."""

from __future__ import annotations

import time
from typing import Any, Dict

import torch

from .losses import loss_for
from .models import build_model, half_scale
from .train import _autocast, _grad_scaler, pick_device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(args) -> Dict[str, Any]:
    device = pick_device(args.device)
    kind = args.kind
    amp = bool(args.amp) and device.type == "cuda"
    channels_last = device.type == "cuda"
    torch.manual_seed(0)
    model = build_model(kind, args.width).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    shape = (1, 640, 640) if kind == "la" else (3, 64, 64)

    def inputs(n: int):
        x = torch.randn((n,) + shape, device=device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return (x, half_scale(x)) if kind == "la" else (x,)

    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.99))
    scaler = _grad_scaler(amp)
    loss_fn = loss_for(kind)
    batch = inputs(args.batch)
    target = (torch.rand((args.batch, 1) + shape[1:], device=device) > 0.7).float()
    model.train()
    times = []
    for i in range(args.steps + 2):  # two warm-up steps
        _sync(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with _autocast(device, amp):
            out = model(*batch)
        loss = loss_fn(torch.sigmoid(out.float()), target)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        _sync(device)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    train_step = sorted(times)[len(times) // 2]

    model.eval()
    n_inf = args.infer
    # In chunks: PyTorch's channels-last bilinear upsampling refuses outputs of 2^31 elements or
    # more, which 88 full-scale 64-channel maps (88 x 64 x 640 x 640) exceed.
    chunks = [inputs(min(args.chunk, n_inf - s)) for s in range(0, n_inf, args.chunk)]
    inf_times = []
    with torch.no_grad():
        for i in range(5):
            _sync(device)
            t0 = time.perf_counter()
            with _autocast(device, amp):
                for x in chunks:
                    model(*x)
            _sync(device)
            if i >= 2:
                inf_times.append(time.perf_counter() - t0)
    result = {
        "kind": kind,
        "width": args.width,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "amp_fp16": amp,
        "channels_last": channels_last,
        "train_batch": args.batch,
        "train_step_s_median": round(train_step, 4),
        "train_samples_per_s": round(args.batch / train_step, 1),
        "inference_samples": n_inf,
        "inference_chunk": args.chunk,
        "inference_s_min": round(min(inf_times), 4),
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result
