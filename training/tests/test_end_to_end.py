"""Tiny synthetic shards -> 3 training steps at width 4 on CPU -> ONNX export -> the exported
graph evaluated outside PyTorch equals PyTorch's output (onnxruntime when installed, else the
package's numpy interpreter of the graph)."""

import json
import os

import numpy as np
import pytest
import torch

from training.__main__ import main
from training.export import run_onnx
from training.synthetic import make_tiny_shards


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    make_tiny_shards(str(root / "shards"), cases=4, per_case=3, la_size=64, patch=16, seed=1)
    for kind in ("la", "scar"):
        assert main(["train", "--kind", kind, "--shards", str(root / "shards"), "--out", str(root / "run"),
                     "--width", "4", "--batch", "4", "--max-steps", "3", "--device", "cpu"]) == 0
    return root


@pytest.mark.parametrize("kind", ["la", "scar"])
def test_train_export_and_compare(trained, kind):
    root = trained
    log = json.loads((root / "run" / f"{kind}-train-log.json").read_text())
    assert log["epochs"][-1]["steps"] == 3
    assert log["stopped"] == "max steps (3)"
    assert all(np.isfinite(e["val_loss"]) and 0 <= e["val_dice"] <= 1 for e in log["epochs"])
    assert sorted(log["split"]["train"] + log["split"]["val"] + log["split"]["test"]) == [
        "tiny000", "tiny001", "tiny002", "tiny003"]

    ckpt = str(root / "run" / f"{kind}-best.pt")
    out_dir = root / "models"
    assert main(["export", "--kind", kind, "--checkpoint", ckpt, "--out", str(out_dir)]) == 0
    import onnx

    model = onnx.load(str(out_dir / f"{kind}.onnx"))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version == 17
    names = ["image_full", "image_half"] if kind == "la" else ["patches"]
    assert [i.name for i in model.graph.input] == names
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # dynamic batch
    assert [o.name for o in model.graph.output] == ["probability"]
    manifest = json.loads((out_dir / f"{kind}.json").read_text())
    assert manifest["width"] == 4 and manifest["opset"] == 17
    assert "SYNTHETIC" in manifest["training_data"]["summary"]
    assert manifest["preprocessing"] == "tiny-synthetic"
    assert [i["name"] for i in manifest["inputs"]] == names

    # Reference files for the TypeScript comparison, and the exported graph against them.
    ref_dir = root / "ref"
    assert main(["reference-output", "--checkpoint", ckpt, "--seed", "7", "--batch", "3", "--out", str(ref_dir)]) == 0
    desc = json.loads((ref_dir / f"{kind}-ref.json").read_text())
    feeds = {i["name"]: np.fromfile(str(ref_dir / i["file"]), dtype="<f4").reshape(i["shape"]) for i in desc["inputs"]}
    expected = np.fromfile(str(ref_dir / desc["output"]["file"]), dtype="<f4").reshape(desc["output"]["shape"])
    assert expected.shape[0] == 3  # a batch other than the export's 1: the batch axis is dynamic
    got, _runtime = run_onnx(str(out_dir / f"{kind}.onnx"), feeds)
    assert got.shape == expected.shape
    assert float(np.abs(got - expected).max()) < 1e-4
    if kind == "la":
        # The half scale in the reference input is the 2 x 2 average of the full scale.
        full = feeds["image_full"]
        pooled = full.reshape(3, 1, 32, 2, 32, 2).mean(axis=(3, 5))
        np.testing.assert_allclose(feeds["image_half"], pooled, atol=1e-6)
    assert main(["check-onnx", "--kind", kind, "--models", str(out_dir), "--ref", str(ref_dir)]) == 0


def test_reference_output_is_deterministic(trained, tmp_path):
    ckpt = str(trained / "run" / "scar-best.pt")
    for d in ("a", "b"):
        assert main(["reference-output", "--checkpoint", ckpt, "--seed", "3", "--out", str(tmp_path / d)]) == 0
    for f in ("scar-ref-patches.f32", "scar-ref-probability.f32"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_fine_tuning_from_a_checkpoint(trained, tmp_path):
    ckpt = str(trained / "run" / "la-best.pt")
    assert main(["train", "--kind", "la", "--shards", str(trained / "shards"), "--out", str(tmp_path),
                 "--init", ckpt, "--batch", "4", "--max-steps", "1", "--device", "cpu"]) == 0
    log = json.loads((tmp_path / "la-train-log.json").read_text())
    # The log names --init relative to the folder holding the run, not by its absolute path.
    assert log["width"] == 4 and log["init"] == os.path.relpath(ckpt, os.path.dirname(str(tmp_path)))
    with pytest.raises(SystemExit, match="differs"):
        main(["train", "--kind", "la", "--shards", str(trained / "shards"), "--out", str(tmp_path),
              "--init", ckpt, "--width", "8", "--max-steps", "1"])
    with pytest.raises(SystemExit, match="'la' model, not 'scar'"):
        main(["train", "--kind", "scar", "--shards", str(trained / "shards"), "--out", str(tmp_path),
              "--init", ckpt, "--max-steps", "1"])


def test_early_stopping_with_patience(trained, tmp_path):
    # lr 0: nothing can improve after the first epoch, so training stops after 1 + patience epochs.
    assert main(["train", "--kind", "scar", "--shards", str(trained / "shards"), "--out", str(tmp_path),
                 "--width", "2", "--batch", "8", "--lr", "0", "--patience", "2", "--epochs", "50",
                 "--device", "cpu"]) == 0
    log = json.loads((tmp_path / "scar-train-log.json").read_text())
    assert log["stopped"].startswith("early stop")
    # Replay the rule on the logged numbers: stop at the first epoch after which neither the
    # validation loss nor the Dice has improved for `patience` epochs. (BatchNorm statistics
    # still move with lr 0, so the epoch count itself is not fixed.)
    best_loss, best_dice, since, stop_at = float("inf"), -1.0, 0, None
    for e in log["epochs"]:
        better = e["val_loss"] < best_loss - 1e-6 or e["val_dice"] > best_dice + 1e-6
        best_loss, best_dice = min(best_loss, e["val_loss"]), max(best_dice, e["val_dice"])
        since = 0 if better else since + 1
        if since >= 2:
            stop_at = e["epoch"]
            break
    assert stop_at == log["epochs"][-1]["epoch"] < 50
    assert log["best"]["checkpoint"] == "scar-best.pt"  # inside the run folder
    assert os.path.isfile(os.path.join(str(tmp_path), log["best"]["checkpoint"]))


def test_validation_dice_is_per_case_then_averaged():
    from torch.utils.data import DataLoader, TensorDataset

    from training.train import evaluate

    class Echo(torch.nn.Module):
        # "Predicts" its input as logits: +10 where the image is 1, -10 elsewhere.
        def forward(self, x):
            return x * 20 - 10

    # case 0: perfect (Dice 1); case 1: predicts 2 pixels, truth 2 pixels, overlap 1 (Dice 0.5).
    img = torch.zeros(3, 1, 2, 2)
    lab = torch.zeros(3, 1, 2, 2)
    img[0, 0, 0, 0] = lab[0, 0, 0, 0] = 1
    img[1, 0, 0, :] = 1
    lab[1, 0, 0, 0] = lab[2, 0, 1, 1] = 1
    loader = DataLoader(TensorDataset(img, lab, torch.tensor([0, 1, 1])), batch_size=2)
    out = evaluate(Echo(), loader, "scar", torch.device("cpu"), False, False)
    assert out["dice"] == pytest.approx((1.0 + 0.5) / 2)
    # pooled: TP 2, FP 1, FN 1
    assert out["dice_pooled"] == pytest.approx(4 / 6)


def test_three_encoders_train_and_export(tmp_path):
    make_tiny_shards(str(tmp_path / "shards"), cases=2, per_case=2, la_size=128, patch=8, seed=2)
    assert main(["train", "--kind", "la", "--shards", str(tmp_path / "shards"), "--out", str(tmp_path / "run"),
                 "--width", "2", "--n-scales", "3", "--batch", "2", "--max-steps", "1", "--device", "cpu"]) == 0
    ckpt = str(tmp_path / "run" / "la-best.pt")
    assert main(["export", "--checkpoint", ckpt, "--out", str(tmp_path / "models")]) == 0
    manifest = json.loads((tmp_path / "models" / "la.json").read_text())
    assert manifest["n_encoders"] == 3
    assert [(i["name"], i["shape"], i["canvas"]) for i in manifest["inputs"]] == [
        ("image_full", ["batch", 1, "height", "width"], [1, 128, 128]),
        ("image_half", ["batch", 1, "half_height", "half_width"], [1, 64, 64]),
        ("image_quarter", ["batch", 1, "quarter_height", "quarter_width"], [1, 32, 32])]
    assert main(["reference-output", "--checkpoint", ckpt, "--out", str(tmp_path / "ref")]) == 0
    assert main(["check-onnx", "--kind", "la", "--models", str(tmp_path / "models"), "--ref", str(tmp_path / "ref")]) == 0
    # 64 x 64 slices are too small for three scales: a clear error before any training.
    make_tiny_shards(str(tmp_path / "small"), cases=2, per_case=1, la_size=64, patch=8)
    with pytest.raises(SystemExit, match="too small for 3 MSWS-Net scales"):
        main(["train", "--kind", "la", "--shards", str(tmp_path / "small"), "--out", str(tmp_path / "run2"),
              "--width", "2", "--n-scales", "3", "--max-steps", "1", "--device", "cpu"])
