"""`python3 -m training average`: the weighted mean of checkpoints of one network, exportable."""

import json

import pytest
import torch

from training.__main__ import main
from training.average import average_checkpoints
from training.provenance import absolute_paths_in
from training.synthetic import make_tiny_shards
from training.train import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("runs")
    shards = tmp_path / "shards"
    make_tiny_shards(str(shards), cases=3, per_case=2, la_size=64, patch=16, seed=5)
    common = ["--kind", "la", "--shards", str(shards), "--batch", "4", "--max-steps", "2", "--device", "cpu",
              "--width", "4"]
    assert main(["train", "--out", str(tmp_path / "a"), "--seed", "1", *common]) == 0
    assert main(["train", "--out", str(tmp_path / "b"), "--seed", "2", *common]) == 0
    return str(tmp_path / "a" / "la-best.pt"), str(tmp_path / "b" / "la-best.pt")


def test_the_average_is_the_weighted_mean_of_every_float_tensor(two_runs, tmp_path):
    a, b = two_runs
    sa, sb = load_checkpoint(a)["state_dict"], load_checkpoint(b)["state_dict"]
    assert any(not torch.equal(sa[k], sb[k]) for k in sa)  # two different networks
    out = average_checkpoints([a, b], [1, 3])  # normalised to 0.25 / 0.75
    for name, t in out["state_dict"].items():
        if torch.is_floating_point(t):
            assert torch.allclose(t, 0.25 * sa[name] + 0.75 * sb[name], atol=1e-6), name
        else:
            assert torch.equal(t, sb[name]), name
    assert [f["weight"] for f in out["averaged_from"]] == [0.25, 0.75]
    assert out["validation"] is None
    # Equal weights by default; the same checkpoint twice is itself.
    same = average_checkpoints([a, a])
    for name, t in same["state_dict"].items():
        assert torch.allclose(t, sa[name], atol=1e-7)


def test_the_command_writes_a_checkpoint_that_exports_with_its_sources_named(two_runs, tmp_path):
    a, b = two_runs
    soup = str(tmp_path / "soup.pt")
    assert main(["average", a, b, "--out", soup]) == 0
    assert main(["export", "--checkpoint", soup, "--out", str(tmp_path / "m")]) == 0
    manifest = json.loads((tmp_path / "m" / "la.json").read_text())
    assert [f["checkpoint"] for f in manifest["averaged_from"]] == ["la-best.pt", "la-best.pt"]
    assert [f["weight"] for f in manifest["averaged_from"]] == [0.5, 0.5]
    assert manifest["validation"] is None
    assert absolute_paths_in(manifest) == []


def test_different_networks_and_bad_weights_are_refused(two_runs, tmp_path):
    a, _ = two_runs
    wider = load_checkpoint(a)
    wider["width"] = 8
    save_checkpoint(str(tmp_path / "w8.pt"), wider)
    with pytest.raises(SystemExit, match="width"):
        average_checkpoints([a, str(tmp_path / "w8.pt")])
    with pytest.raises(SystemExit, match="at least two"):
        average_checkpoints([a])
    with pytest.raises(SystemExit, match="2 weights for 3"):
        average_checkpoints([a, a, a], [1, 1])
    with pytest.raises(SystemExit, match=">= 0"):
        average_checkpoints([a, a], [1, -1])
    assert main(["average", a, a, "--weights", "1,x", "--out", str(tmp_path / "x.pt")]) == 2
