
import pytest
import torch

from training.losses import FocalTverskyLoss, dice_from_counts, loss_for


def test_hand_computed_case():
    # p = [1, 0.5, 0, 0.25], y = [1, 1, 0, 0]
    # TP = 1 + 0.5 = 1.5; FP = 0.25; FN = 0.5
    p = torch.tensor([1.0, 0.5, 0.0, 0.25])
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    f = FocalTverskyLoss(0.3, 0.7, 0.75, eps=1.0)
    ti = (1.5 + 1) / (1.5 + 0.3 * 0.25 + 0.7 * 0.5 + 1)
    assert float(f.tversky_index(p, y)) == pytest.approx(ti, rel=1e-6)
    assert float(f(p, y)) == pytest.approx((1 - ti) ** 0.75, rel=1e-6)


def test_alpha_weighs_false_positives_and_beta_false_negatives():
    f = FocalTverskyLoss(0.3, 0.7, 0.75, eps=0.0)
    y = torch.tensor([1.0, 1.0, 0.0, 0.0])
    only_fp = torch.tensor([1.0, 1.0, 1.0, 0.0])  # TP 2, FP 1
    only_fn = torch.tensor([1.0, 0.0, 0.0, 0.0])  # TP 1, FN 1
    assert float(f.tversky_index(only_fp, y)) == pytest.approx(2 / (2 + 0.3))
    assert float(f.tversky_index(only_fn, y)) == pytest.approx(1 / (1 + 0.7))
    assert float(f(only_fn, y)) > float(f(only_fp, y))


def test_perfect_prediction_is_zero_loss_and_gradient_is_finite():
    f = loss_for("scar")
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = y.clone().requires_grad_(True)
    loss = f(p, y)
    loss.backward()
    assert float(loss) < 1e-3
    assert torch.isfinite(p.grad).all()


def test_empty_target_penalises_false_positives_only():
    f = FocalTverskyLoss(0.4, 0.6, 0.75, eps=1.0)
    y = torch.zeros(4)
    assert float(f(torch.zeros(4), y)) < 1e-3
    # FP = 2: TI = 1 / (0.4 * 2 + 1)
    assert float(f(torch.tensor([1.0, 1.0, 0.0, 0.0]), y)) == pytest.approx((1 - 1 / 1.8) ** 0.75, rel=1e-6)


def test_paper_parameters():
    la, scar = loss_for("la"), loss_for("scar")
    assert (la.alpha, la.beta, la.gamma) == (0.3, 0.7, 0.75)
    assert (scar.alpha, scar.beta, scar.gamma) == (0.4, 0.6, 0.75)


def test_dice_from_counts():
    assert dice_from_counts(3, 1, 1) == pytest.approx(6 / 8)
    assert dice_from_counts(0, 0, 0) == 1.0
    assert dice_from_counts(0, 2, 0) == 0.0
