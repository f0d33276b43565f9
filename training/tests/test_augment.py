import math

import numpy as np
import pytest
import torch

from training.augment import LaAugment, augment_la, augment_scar


def _disc_batch(n=4, size=64, pad=8):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    lab = (((yy - 32) ** 2 + (xx - 30) ** 2) < 12 ** 2).float()
    img = torch.zeros(n, 1, size, size)
    g = torch.Generator().manual_seed(3)
    inner = torch.randn(n, 1, size - 2 * pad, size - 2 * pad, generator=g) * 0.2 + 2 * lab[pad:-pad, pad:-pad]
    inner = (inner - inner.mean(dim=(2, 3), keepdim=True)) / inner.std(dim=(2, 3), keepdim=True, unbiased=False)
    img[:, :, pad:-pad, pad:-pad] = inner  # zero padding outside, as the product writes it
    return img, lab.expand(n, 1, size, size).clone()


def test_la_label_stays_binary_and_follows_the_image():
    torch.manual_seed(0)
    img, lab = _disc_batch()
    g = torch.Generator().manual_seed(7)
    out, out_lab = augment_la(img, lab, g, LaAugment(p_intensity=1.0, p_affine=1.0))
    assert out.shape == img.shape and out_lab.shape == lab.shape
    assert set(torch.unique(out_lab).tolist()) <= {0.0, 1.0}
    assert not torch.equal(out_lab, lab)  # the geometry really moved
    for i in range(out.shape[0]):
        inside = out[i][out_lab[i] > 0].mean()
        outside = out[i][(out_lab[i] == 0) & (out[i] != 0)].mean()
        assert inside > outside + 0.5  # the bright disc moved with its label


def test_la_intensity_keeps_the_slice_statistics_of_the_content_box():
    torch.manual_seed(0)
    img, lab = _disc_batch()
    g = torch.Generator().manual_seed(1)
    out, out_lab = augment_la(img, lab, g, LaAugment(p_intensity=1.0, p_affine=0.0))
    torch.testing.assert_close(out_lab, lab)
    box = out[:, :, 8:-8, 8:-8]
    assert torch.all(out[:, :, :8] == 0) and torch.all(out[:, :, :, -8:] == 0)
    np.testing.assert_allclose(box.mean(dim=(1, 2, 3)).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(box.std(dim=(1, 2, 3), unbiased=False).numpy(), 1, atol=1e-3)
    assert (out - img).abs().max() > 0.05  # and something did change


def test_scar_channels_stay_consistent():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(6, 3, 16, 16)
    x[:, 1] = torch.rand(6, 16, 16)
    x[:, 2] = x[:, 0].clamp(min=0)
    y = (torch.rand(6, 1, 16, 16) > 0.8).float()
    out, out_y = augment_scar(x, y, g)
    assert out.shape == x.shape and out_y.shape == y.shape
    torch.testing.assert_close(out[:, 2], out[:, 0].clamp(min=0))
    assert set(torch.unique(out_y).tolist()) <= {0.0, 1.0}


def test_scar_geometry_is_identical_for_channels_and_label():
    # Channel 1 is left alone by the intensity part: make it a copy of the label and check
    # that the flips/rotations/affine move both the same way.
    from training.augment import ScarAugment

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    y = torch.zeros(8, 1, 16, 16)
    y[:, :, 3:7, 2:12] = 1
    x = torch.randn(8, 3, 16, 16)
    x[:, 1:2] = y
    out, out_y = augment_scar(x, y, g, ScarAugment(p_intensity=0.0, p_affine=0.0))
    torch.testing.assert_close(out[:, 1:2], out_y)
    assert not torch.equal(out_y, y)


# Domain randomisation: each intensity step within its documented range, labels aligned.
from training.augment import (CURVE_SEGMENTS, IntensityRanges, ScarAugment, apply_intensity,  # noqa: E402
                              contrast_curve, gaussian_blur, ghost, sample_intensity, scar_intensity)


def _neutral(n, **over):
    p = {"gamma": torch.ones(n), "slopes": torch.ones(n, CURVE_SEGMENTS), "bias": torch.zeros(n),
         "bias_field": torch.zeros(n, 1, 4, 4), "blur": torch.zeros(n), "ghost_amp": torch.zeros(n),
         "ghost_shift": torch.full((n,), 0.25), "ghost_axis": torch.zeros(n, dtype=torch.long),
         "ghost_sign": torch.ones(n, dtype=torch.long), "noise": torch.zeros(n)}
    p.update(over)
    return p


def _ramp(n=2, size=32):
    return torch.linspace(0, 1, size * size).view(1, 1, size, size).repeat(n, 1, 1, 1)


def test_sampled_parameters_lie_in_their_documented_ranges():
    g = torch.Generator().manual_seed(11)
    for r in (IntensityRanges(), scar_intensity()):
        p = sample_intensity(4000, g, r)
        assert r.gamma_range[0] <= float(p["gamma"].min()) and float(p["gamma"].max()) <= r.gamma_range[1]
        # Log-uniform: both ends of a wide range are reached (darkening and brightening gammas).
        assert float(p["gamma"].min()) < 1.05 * r.gamma_range[0] and float(p["gamma"].max()) > 0.95 * r.gamma_range[1]
        slopes = p["slopes"]
        np.testing.assert_allclose(slopes.mean(dim=1).numpy(), 1, atol=1e-5)  # the curve ends at 1
        ratio = slopes.max(dim=1).values / slopes.min(dim=1).values
        assert float(ratio.max()) <= r.curve_ratio + 1e-4
        curved = (ratio > 1 + 1e-6).float().mean()
        assert abs(float(curved) - r.p_curve) < 0.05
        assert 0 <= float(p["bias"].min()) and float(p["bias"].max()) <= r.bias_max
        blurred = p["blur"][p["blur"] > 0]
        assert abs(len(blurred) / 4000 - r.p_blur) < 0.05
        assert r.blur_sigma[0] <= float(blurred.min()) and float(blurred.max()) <= r.blur_sigma[1]
        ghosted = p["ghost_amp"][p["ghost_amp"] > 0]
        assert abs(len(ghosted) / 4000 - r.p_ghost) < 0.05
        assert r.ghost_amplitude[0] <= float(ghosted.min()) and float(ghosted.max()) <= r.ghost_amplitude[1]
        assert r.ghost_shift[0] <= float(p["ghost_shift"].min()) and float(p["ghost_shift"].max()) <= r.ghost_shift[1]
        lo, hi = r.noise_sigma
        assert lo <= float(p["noise"].min()) and float(p["noise"].max()) <= hi
        # Low and high SNR both drawn: a decade apart at least.
        assert float(p["noise"].max()) / float(p["noise"].min()) > 10


def test_each_step_alone_does_what_it_says():
    u = _ramp()
    n = u.shape[0]
    # Identity when every step is neutral.
    torch.testing.assert_close(apply_intensity(u, _neutral(n), torch.zeros(2, n, 1, 32, 32)), u)
    # Gamma: u ** gamma exactly.
    out = apply_intensity(u, _neutral(n, gamma=torch.tensor([0.5, 2.0])), torch.zeros(2, n, 1, 32, 32))
    torch.testing.assert_close(out[0], u[0] ** 0.5)
    torch.testing.assert_close(out[1], u[1] ** 2.0)
    # Bias: a multiplicative field within exp(+-bias).
    p = _neutral(n, bias=torch.tensor([0.4, 0.4]), bias_field=torch.rand(n, 1, 4, 4) * 2 - 1)
    out = apply_intensity(u, p, torch.zeros(2, n, 1, 32, 32))
    ratio = out[u > 0.05] / u[u > 0.05]
    assert float(ratio.min()) >= math.exp(-0.4) - 1e-5 and float(ratio.max()) <= math.exp(0.4) + 1e-5
    assert float(ratio.max() - ratio.min()) > 0.1
    # Rician noise: zero-mean Gaussian pair -> magnitude; the dark end is lifted (Rician floor).
    torch.manual_seed(0)
    dark = torch.zeros(1, 1, 64, 64)
    out = apply_intensity(dark, _neutral(1, noise=torch.tensor([0.1])))
    # The magnitude of complex noise of sigma s has mean s * sqrt(pi / 2).
    assert abs(float(out.mean()) - 0.1 * math.sqrt(math.pi / 2)) < 0.005


def test_contrast_curve_is_monotone_and_fixes_the_ends():
    g = torch.Generator().manual_seed(4)
    p = sample_intensity(64, g, IntensityRanges(p_curve=1.0))
    u = torch.linspace(0, 1, 257).view(1, 1, 1, 257).repeat(64, 1, 1, 1)
    v = contrast_curve(u, p["slopes"])
    assert torch.all(v[..., 1:] - v[..., :-1] >= -1e-6)
    torch.testing.assert_close(v[..., 0], torch.zeros(64, 1, 1))
    torch.testing.assert_close(v[..., -1], torch.ones(64, 1, 1))
    assert float((v - u).abs().max()) > 0.05  # and it does bend


def test_blur_keeps_the_mean_and_smooths_an_edge():
    x = torch.zeros(2, 1, 32, 32)
    x[:, :, :, 16:] = 1
    out = gaussian_blur(x, torch.tensor([0.0, 1.5]))
    torch.testing.assert_close(out[0], x[0])  # sigma 0: unchanged
    row = out[1, 0, 10]
    assert 0.05 < float(row[15]) < 0.5 < float(row[16]) < 0.95  # a soft edge, still centred
    torch.testing.assert_close(out[1].mean(), x[1].mean(), atol=1e-6, rtol=0)


def test_ghost_is_a_faint_shifted_copy():
    x = torch.zeros(1, 1, 40, 40)
    x[0, 0, 5:10, 12:18] = 1.0
    out = ghost(x, torch.tensor([0.2]), torch.tensor([0.25]), torch.tensor([0]), torch.tensor([1]))
    assert torch.all(out[0, 0, 5:10, 12:18] == 1.0)  # the original stays
    torch.testing.assert_close(out[0, 0, 15:20, 12:18], torch.full((5, 6), 0.2))  # 10 rows down
    assert float(out.sum()) == pytest.approx(1.2 * float(x.sum()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_la_intensity_randomisation_moves_no_label_pixel(seed):
    torch.manual_seed(seed)
    img, lab = _disc_batch(n=6)
    g = torch.Generator().manual_seed(seed)
    strong = IntensityRanges(p_curve=1.0, p_blur=1.0, p_ghost=1.0)
    out, out_lab = augment_la(img, lab, g, LaAugment(p_intensity=1.0, p_affine=0.0, intensity=strong))
    torch.testing.assert_close(out_lab, lab)  # the intensity chain moves no pixel
    assert torch.all(out[:, :, :8] == 0) and torch.all(out[:, :, :, -8:] == 0)  # padding stays padding
    box = out[:, :, 8:-8, 8:-8]
    np.testing.assert_allclose(box.mean(dim=(1, 2, 3)).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(box.std(dim=(1, 2, 3), unbiased=False).numpy(), 1, atol=1e-3)
    for i in range(6):  # the atrium is still the bright structure under its label
        inside = out[i][lab[i] > 0].mean()
        outside = out[i][(lab[i] == 0) & (out[i] != 0)].mean()
        assert inside > outside


def test_scar_randomisation_stays_in_range_and_aligned():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(9)
    y = torch.zeros(32, 1, 16, 16)
    y[:, :, 3:7, 2:12] = 1
    x = torch.randn(32, 3, 16, 16) * 0.3 + 2 * y
    x[:, 1:2] = y  # channel 1 is untouched by intensity: a copy of the label tracks the geometry
    x[:, 2] = x[:, 0].clamp(min=0)
    cfg = ScarAugment(p_intensity=1.0, p_affine=0.0)
    out, out_y = augment_scar(x, y, g, cfg)
    torch.testing.assert_close(out[:, 1:2], out_y)
    torch.testing.assert_close(out[:, 2], out[:, 0].clamp(min=0))
    # Before a z' = a z + b with a <= 1.4, |b| <= 0.3, the chain keeps each patch in its own
    # [min, max] up to the bias (x1.22), ghost (+0.15) and noise (a few sigma of 0.08) headroom.
    span = x[:, 0].amax(dim=(1, 2)) - x[:, 0].amin(dim=(1, 2))
    bound = x[:, 0].abs().amax(dim=(1, 2)) * 1.4 * 1.22 * 1.15 + span * 1.4 * 0.5 + 0.3
    assert torch.all(out[:, 0].abs().amax(dim=(1, 2)) <= bound)
    assert set(torch.unique(out_y).tolist()) <= {0.0, 1.0}


def test_batched_ghost_equals_a_roll_per_sample():
    torch.manual_seed(1)
    x = torch.rand(6, 1, 20, 24)
    amp = torch.tensor([0.1, 0.2, 0.0, 0.15, 0.25, 0.05])
    shift = torch.tensor([0.1, 0.4, 0.3, 0.25, 0.2, 0.35])
    axis = torch.tensor([0, 1, 0, 1, 0, 1])
    sign = torch.tensor([1, -1, 1, 1, -1, -1])
    out = ghost(x, amp, shift, axis, sign)
    for i in range(6):
        dim = 1 if int(axis[i]) == 0 else 2
        k = int(round(float(shift[i]) * x.shape[dim + 1])) * int(sign[i])
        torch.testing.assert_close(out[i], x[i] + float(amp[i]) * torch.roll(x[i], shifts=k, dims=dim))
