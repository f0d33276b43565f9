"""Focal Tversky loss and the Dice measure used for validation."""

from __future__ import annotations

import torch
import torch.nn as nn

# (alpha, beta, gamma) from the paper.
LA_FOCAL_TVERSKY = (0.3, 0.7, 0.75)
SCAR_FOCAL_TVERSKY = (0.4, 0.6, 0.75)


class FocalTverskyLoss(nn.Module):
    """Focal Tversky loss on probabilities for the foreground class.

        TI   = (TP + eps) / (TP + alpha * FP + beta * FN + eps)
        loss = (1 - TI) ** gamma

    with soft counts over every pixel of the batch (TP = sum p*y, FP = sum p*(1-y),
    FN = sum (1-p)*y). alpha weighs false positives, beta false negatives.

    Exponent form: ``(1 - TI) ** gamma``, as the authors' reference code computes it (the paper's
    text writes ``(1 - TI) ** (1/gamma)``). With gamma = 0.75 this is also the exponent Abraham &
    Khan recommend for the original focal Tversky loss (their gamma = 4/3 in the 1/gamma
    notation). The network has a single sigmoid output, so the sum over classes has one term
    (the foreground); the background is not added as a second class.

    eps = 1 (the "smooth" term of the published focal Tversky code): a batch with no foreground
    and no prediction scores TI = 1, and one with no foreground still penalises false positives.
    (1 - TI) is clamped away from 0 so that the gradient of x ** 0.75 stays finite.
    """

    def __init__(self, alpha: float, beta: float, gamma: float, eps: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.eps = eps

    def tversky_index(self, prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prob.shape != target.shape:
            raise ValueError(f"prediction shape {tuple(prob.shape)} != target shape {tuple(target.shape)}")
        p = prob.float().reshape(-1)
        y = target.float().reshape(-1)
        tp = (p * y).sum()
        fp = (p * (1 - y)).sum()
        fn = ((1 - p) * y).sum()
        return (tp + self.eps) / (tp + self.alpha * fp + self.beta * fn + self.eps)

    def forward(self, prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ti = self.tversky_index(prob, target)
        return torch.clamp(1 - ti, min=1e-6) ** self.gamma


def loss_for(kind: str) -> FocalTverskyLoss:
    if kind == "la":
        return FocalTverskyLoss(*LA_FOCAL_TVERSKY)
    if kind == "scar":
        return FocalTverskyLoss(*SCAR_FOCAL_TVERSKY)
    raise ValueError(f"unknown model kind {kind!r}: expected 'la' or 'scar'")


def dice_counts(pred: torch.Tensor, target: torch.Tensor) -> tuple[int, int, int]:
    """(TP, FP, FN) of two binary masks."""
    p = pred.bool()
    y = target.bool()
    tp = int((p & y).sum().item())
    fp = int((p & ~y).sum().item())
    fn = int((~p & y).sum().item())
    return tp, fp, fn


def dice_from_counts(tp: int, fp: int, fn: int) -> float:
    """Dice = 2TP / (2TP + FP + FN); 1.0 when both masks are empty (nothing to find, nothing found)."""
    denom = 2 * tp + fp + fn
    return 1.0 if denom == 0 else 2 * tp / denom
