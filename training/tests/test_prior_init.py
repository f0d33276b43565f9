import math

import numpy as np
import pytest
import torch

from training.models import build_model
from training.shards import open_shards
from training.train import foreground_prior, init_output_prior
from training.synthetic import make_tiny_shards


@pytest.mark.parametrize("kind", ["la", "scar"])
def test_output_starts_at_the_foreground_prior(kind, tmp_path):
    dirs = make_tiny_shards(str(tmp_path), cases=2, per_case=3, seed=4)
    shards = open_shards(dirs[kind], kind)
    indices = np.arange(shards.count)
    prior = foreground_prior(shards, indices)
    expected = float(np.asarray(shards.arrays["label"], dtype=np.float32).mean())
    assert prior == pytest.approx(expected, rel=1e-6)

    torch.manual_seed(0)
    model = build_model(kind, 4, with_sigmoid=True).eval()
    params_before = sum(p.numel() for p in model.parameters())
    init_output_prior(model, prior)
    assert sum(p.numel() for p in model.parameters()) == params_before
    assert model.head.bias.item() == pytest.approx(math.log(prior / (1 - prior)))
    # Zero input: every activation before the head is a fixed function of the biases, so compare
    # against a model whose head weights are zeroed: the output is exactly the prior.
    with torch.no_grad():
        model.head.weight.zero_()
        if kind == "la":
            out = model(torch.zeros(1, 1, 64, 64), torch.zeros(1, 1, 32, 32))
        else:
            out = model(torch.zeros(1, 3, 16, 16))
    assert float(out.mean()) == pytest.approx(prior, rel=1e-5)


def test_prior_is_clamped_to_a_usable_logit():
    model = build_model("scar", 4)
    init_output_prior(model, 0.0)
    assert math.isfinite(model.head.bias.item()) and model.head.bias.item() < -9
    init_output_prior(model, 0.9)
    assert model.head.bias.item() == pytest.approx(0.0)
