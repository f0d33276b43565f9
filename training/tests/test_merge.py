import json
import os

import numpy as np
import pytest

from training.merge import merge_shards
from training.shards import ShardError, open_shards
from training.synthetic import make_tiny_shards


def test_merge_concatenates_samples_and_shifts_case_indices(tmp_path):
    a = make_tiny_shards(str(tmp_path / "a"), cases=2, per_case=2, seed=1)
    b = make_tiny_shards(str(tmp_path / "b"), cases=3, per_case=2, seed=2)
    # Distinct case ids, as parallel `lascar dataset` jobs give (ids are folder paths).
    for root, prefix in ((tmp_path / "b" / "la", "b-"), (tmp_path / "b" / "scar", "b-")):
        mpath = root / "manifest.json"
        m = json.loads(mpath.read_text())
        for c in m["cases"]:
            c["id"] = prefix + c["id"]
        mpath.write_text(json.dumps(m))
    print(merge_shards([os.path.dirname(a["la"]), os.path.dirname(b["la"])], str(tmp_path / "all"), "la"))
    merged = open_shards(str(tmp_path / "all"), "la")
    sa, sb = open_shards(a["la"], "la"), open_shards(b["la"], "la")
    assert merged.count == sa.count + sb.count
    assert merged.case_ids == sa.case_ids + sb.case_ids
    np.testing.assert_array_equal(merged.arrays["full"][: sa.count], sa.arrays["full"])
    np.testing.assert_array_equal(merged.arrays["full"][sa.count:], sb.arrays["full"])
    np.testing.assert_array_equal(merged.arrays["case"][sa.count:], np.asarray(sb.arrays["case"]) + len(sa.case_ids))


def test_merge_refuses_repeated_case_ids(tmp_path):
    a = make_tiny_shards(str(tmp_path / "a"), cases=2, per_case=1, seed=1)
    b = make_tiny_shards(str(tmp_path / "b"), cases=2, per_case=1, seed=2)
    with pytest.raises(ShardError, match="repeat"):
        merge_shards([os.path.dirname(a["la"]), os.path.dirname(b["la"])], str(tmp_path / "all"), "la")
