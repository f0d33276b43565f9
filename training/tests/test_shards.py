import os

import numpy as np
import pytest

from training.shards import (ShardDataset, ShardError, check_half_scale, open_shards, sample_indices,
                             split_cases, write_shards)
from training.synthetic import make_tiny_shards


def test_round_trip_and_dataset(tmp_path):
    dirs = make_tiny_shards(str(tmp_path), cases=3, per_case=2, la_size=32, patch=8)
    s = open_shards(str(tmp_path), "la")  # parent folder resolves to la/
    assert s.root == dirs["la"]
    assert s.count == 6 and s.case_ids == ["tiny000", "tiny001", "tiny002"]
    assert s.arrays["full"].shape == (6, 1, 32, 32)
    assert s.input_shapes() == {"image_full": [1, 32, 32], "image_half": [1, 16, 16]}
    check_half_scale(s)
    ds = ShardDataset(s.root, "la", sample_indices(s, ["tiny001"]))
    assert len(ds) == 2
    image, label, case = ds[1]
    assert case == 1 and image.shape == (1, 32, 32) and label.shape == (1, 32, 32)
    np.testing.assert_array_equal(image.numpy(), s.arrays["full"][3])
    # The raw file really is little-endian float32 in C order.
    raw = np.fromfile(os.path.join(s.root, "la-full.f32"), dtype="<f4").reshape(6, 1, 32, 32)
    np.testing.assert_array_equal(raw, s.arrays["full"])
    sc = open_shards(dirs["scar"], "scar")
    assert sc.input_shapes() == {"patches": [3, 8, 8]}


def test_clear_errors(tmp_path):
    dirs = make_tiny_shards(str(tmp_path), cases=2, per_case=1, la_size=32, patch=8)
    with pytest.raises(ShardError, match="'kind' is 'la'"):
        open_shards(dirs["la"], "scar")
    with open(os.path.join(dirs["la"], "la-label.u8"), "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ShardError, match="la-label.u8: 2049 bytes"):
        open_shards(dirs["la"], "la")
    with pytest.raises(ShardError, match="no manifest.json"):
        open_shards(str(tmp_path / "nowhere"), "la")


def test_half_scale_must_be_the_average_pooling(tmp_path):
    full = np.random.default_rng(0).normal(size=(2, 1, 32, 32)).astype(np.float32)
    bad_half = full[:, :, ::2, ::2].copy()  # subsampling, not 2x2 averaging
    d = write_shards(str(tmp_path), "la", {"full": full, "half": bad_half, "label": np.zeros_like(full, np.uint8),
                                           "case": np.array([0, 1], np.int32)},
                     ["a", "b"], preprocessing="x", source="test", synthetic=True)
    with pytest.raises(ShardError, match="not the 2 x 2 average pooling"):
        check_half_scale(open_shards(d, "la"))


def test_split_is_by_case_deterministic_and_70_20_10():
    ids = [f"case{i:02d}" for i in range(20)]
    a = split_cases(ids)
    b = split_cases(list(reversed(ids)))
    assert a == b
    assert [len(a[k]) for k in ("train", "val", "test")] == [14, 4, 2]
    assert sorted(a["train"] + a["val"] + a["test"]) == ids
    assert a["train"] != ids[:14]  # hashed, not file order
    small = split_cases(["x", "y"])
    assert len(small["train"]) == 1 and len(small["val"]) == 1


def test_split_from_manifest_wins():
    cases = [{"id": "a", "split": "train"}, {"id": "b", "split": "val"}, {"id": "c", "split": "test"}]
    assert split_cases(["a", "b", "c"], cases) == {"train": ["a"], "val": ["b"], "test": ["c"]}
