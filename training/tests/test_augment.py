import numpy as np
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
