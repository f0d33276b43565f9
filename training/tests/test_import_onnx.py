"""An exported model comes back as a checkpoint that computes the same function, and training
continues from it with the folded BatchNorms frozen."""

import json

import numpy as np
import pytest
import torch

from training.__main__ import main
from training.augment import crop_la
from training.export import eval_model
from training.models import build_model, pyramid
from training.synthetic import make_tiny_shards
from training.train import load_checkpoint


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("import")
    make_tiny_shards(str(root / "shards"), cases=4, per_case=3, la_size=128, patch=16, seed=2)
    for kind in ("la", "scar"):
        assert main(["train", "--kind", kind, "--shards", str(root / "shards"), "--out", str(root / "run"),
                     "--width", "4", "--batch", "4", "--max-steps", "2", "--device", "cpu"]) == 0
        assert main(["export", "--checkpoint", str(root / "run" / f"{kind}-best.pt"), "--out", str(root / "models")]) == 0
    return root


@pytest.mark.parametrize("kind", ["la", "scar"])
def test_imported_model_equals_the_trained_one(exported, kind, capsys):
    out = exported / f"{kind}-imported.pt"
    assert main(["import-onnx", str(exported / "models" / f"{kind}.onnx"), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["kind"] == kind and report["width"] == 4 and report["max_abs_difference"] < 1e-4

    original = eval_model(load_checkpoint(str(exported / "run" / f"{kind}-best.pt")))
    imported_ckpt = load_checkpoint(str(out))
    assert imported_ckpt["batchnorm"] == "folded"
    imported = eval_model(imported_ckpt)
    g = torch.Generator().manual_seed(5)
    if kind == "la":
        inputs = pyramid(torch.randn(2, 1, 128, 128, generator=g), 2)
    else:
        inputs = [torch.randn(2, 3, 16, 16, generator=g)]
    with torch.no_grad():
        a, b = original(*inputs), imported(*inputs)
    assert float((a - b).abs().max()) < 1e-5


def test_an_onnx_file_of_another_architecture_is_refused(exported, tmp_path):
    manifest = json.loads((exported / "models" / "scar.json").read_text())
    manifest["model"] = "la"  # scar weights under an LA manifest
    (tmp_path / "scar.json").write_text(json.dumps(manifest))
    (tmp_path / "scar.onnx").write_bytes((exported / "models" / "scar.onnx").read_bytes())
    with pytest.raises(SystemExit, match="not an export of this architecture|expected"):
        main(["import-onnx", str(tmp_path / "scar.onnx"), "--out", str(tmp_path / "x.pt")])
    # A manifest left over from another export: its metadata would be carried over silently.
    (tmp_path / "la.json").write_text((exported / "models" / "la.json").read_text())
    (tmp_path / "la.onnx").write_bytes((exported / "models" / "scar.onnx").read_bytes())
    with pytest.raises(SystemExit, match="describes another file"):
        main(["import-onnx", str(tmp_path / "la.onnx"), "--out", str(tmp_path / "y.pt")])


def test_fine_tuning_an_imported_model_keeps_batchnorm_frozen(exported, tmp_path):
    ckpt = exported / "la-ft-init.pt"
    assert main(["import-onnx", str(exported / "models" / "la.onnx"), "--out", str(ckpt)]) == 0
    assert main(["train", "--kind", "la", "--shards", str(exported / "shards"), "--out", str(tmp_path),
                 "--init", str(ckpt), "--batch", "4", "--max-steps", "2", "--crop", "64",
                 "--val-samples", "2", "--device", "cpu"]) == 0
    log = json.loads((tmp_path / "la-train-log.json").read_text())
    assert log["batchnorm"].startswith("folded") and log["crop"] == 64
    assert log["samples"]["val"] == 2
    after = load_checkpoint(str(tmp_path / "la-last.pt"))
    before = load_checkpoint(str(ckpt))
    assert after["batchnorm"] == "folded"  # a further --init stays frozen too
    for name, tensor in after["state_dict"].items():
        if "running_" in name:  # statistics untouched: the BatchNorms ran in eval mode
            assert torch.equal(tensor, before["state_dict"][name]), name
    convs = [n + ".weight" for n, m in build_model("la", 4).named_modules() if isinstance(m, torch.nn.Conv2d)]
    moved = [n for n in convs if not torch.equal(after["state_dict"][n], before["state_dict"][n])]
    assert moved  # and the convolutions did learn
    with pytest.raises(SystemExit, match="multiple of 64"):
        main(["train", "--kind", "la", "--shards", str(exported / "shards"), "--out", str(tmp_path),
              "--init", str(ckpt), "--max-steps", "1", "--crop", "96", "--device", "cpu"])


def test_crops_hold_the_atrium_and_keep_the_half_scale_aligned():
    g = torch.Generator().manual_seed(0)
    full = torch.randn(6, 1, 128, 128)
    label = torch.zeros(6, 1, 128, 128)
    label[:, :, 90:100, 20:30] = 1
    label[5] = 0  # a slice without LA: crop anywhere
    img, lab = crop_la(full, label, 64, g, p_foreground=1.0, margin=8)
    assert img.shape == (6, 1, 64, 64) and lab.shape == (6, 1, 64, 64)
    assert all(float(lab[i].sum()) > 0 for i in range(5))
    assert float(lab[5].sum()) == 0
    # Each crop is the original at an even offset: find it and check the 2 x 2 pooling commutes.
    for i in range(6):
        hits = [(y, x) for y in range(0, 65, 2) for x in range(0, 65, 2)
                if torch.equal(full[i, :, y:y + 64, x:x + 64], img[i])]
        assert len(hits) == 1
        y, x = hits[0]
        half = torch.nn.functional.avg_pool2d(full[i:i + 1], 2)[..., y // 2:y // 2 + 32, x // 2:x // 2 + 32]
        assert torch.allclose(pyramid(img[i:i + 1], 2)[1], half)
    with pytest.raises(ValueError):
        crop_la(full, label, 63, g)


def test_la_manifest_names_the_free_axes_and_keeps_the_trained_canvas(exported, tmp_path, capsys):
    """A re-trained LA model must keep the product's crop-to-atrium path: the manifest names the
    spatial axes the graph leaves free (a fixed-size manifest turns the crop off), says which
    canvas it was trained on, and import-onnx restores that canvas."""
    import onnx

    manifest = json.loads((exported / "models" / "la.json").read_text())
    inputs = {i["name"]: i for i in manifest["inputs"]}
    assert inputs["image_full"]["shape"] == ["batch", 1, "height", "width"]
    assert inputs["image_half"]["shape"] == ["batch", 1, "half_height", "half_width"]
    assert inputs["image_full"]["canvas"] == [1, 128, 128] and inputs["image_half"]["canvas"] == [1, 64, 64]
    assert manifest["output"]["shape"] == ["batch", 1, "height", "width"]
    graph = onnx.load(str(exported / "models" / "la.onnx")).graph
    dims = [d.dim_param or d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, "height", "width"]
    scar = json.loads((exported / "models" / "scar.json").read_text())
    assert scar["inputs"][0]["shape"] == ["batch", 3, 16, 16] and "canvas" not in scar["inputs"][0]

    out = tmp_path / "la.pt"
    assert main(["import-onnx", str(exported / "models" / "la.onnx"), "--out", str(out)]) == 0
    assert load_checkpoint(str(out))["input_shapes"]["image_full"] == [1, 128, 128]
    capsys.readouterr()


def test_the_shipped_la_model_imports(tmp_path, capsys):
    """models/la.json names its axes and gives the 640 x 640 canvas it was trained on; the
    imported weights compute what the ONNX file does."""
    import os

    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "models", "la.onnx")
    out = tmp_path / "la.pt"
    assert main(["import-onnx", shipped, "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["kind"] == "la" and report["max_abs_difference"] < 1e-4
    assert load_checkpoint(str(out))["input_shapes"] == {"image_full": [1, 640, 640], "image_half": [1, 320, 320]}
