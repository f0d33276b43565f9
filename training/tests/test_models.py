import pytest
import torch

from training.models import Boundary2PatchesNet, MswsNet, count_parameters, pyramid
from training.summary import PAPER_TABLE1_GMAC, msws_macs


def test_parameter_counts_at_width_64():
    assert count_parameters(MswsNet(width=64)) == 69_184_577
    assert count_parameters(Boundary2PatchesNet(width=64)) == 25_379_329


def test_shared_encoder_means_parameters_do_not_grow_with_scales():
    assert count_parameters(MswsNet(width=8, n_scales=1)) == count_parameters(MswsNet(width=8, n_scales=4))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_macs_reproduce_paper_table_1(n):
    gmac = msws_macs(64, n)["total"] / 1e9
    assert abs(gmac / PAPER_TABLE1_GMAC[n] - 1) < 0.005, (n, gmac)


def test_msws_forward_shapes_and_scale_count():
    torch.manual_seed(0)
    m = MswsNet(width=2, n_scales=2).eval()
    full = torch.randn(2, 1, 64, 64)
    out = m(*pyramid(full, 2))
    assert out.shape == (2, 1, 64, 64)
    with pytest.raises(ValueError, match="2 scale"):
        m(full)
    with pytest.raises(ValueError, match="multiple of 32"):
        m(torch.randn(1, 1, 48, 48), torch.randn(1, 1, 24, 24))


def test_msws_four_scales_with_odd_coarse_sizes():
    # 640 / 8 = 80 pools to 5 then 2: the FMM must resize to the finer map's size.
    m = MswsNet(width=1, n_scales=4).eval()
    full = torch.randn(1, 1, 320, 320)  # fourth scale 40 pools to 20, 10, 5, 2, 1
    with torch.no_grad():
        out = m(*pyramid(full, 4))
    assert out.shape == (1, 1, 320, 320)


def test_half_scale_changes_the_output():
    # The second encoder really contributes (FMM adds it): a different half input changes the result.
    torch.manual_seed(1)
    m = MswsNet(width=2).eval()
    full = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        a = m(full, torch.nn.functional.avg_pool2d(full, 2))
        b = m(full, torch.zeros(1, 1, 32, 32))
    assert (a - b).abs().max() > 1e-4


def test_boundary2patches_shapes_and_sigmoid():
    m = Boundary2PatchesNet(width=2, with_sigmoid=True).eval()
    out = m(torch.randn(3, 3, 64, 64))
    assert out.shape == (3, 1, 64, 64)
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(ValueError, match="multiple of 4"):
        m(torch.randn(1, 3, 30, 30))
