"""scripts/train-models.sh: the cheap parts (options, the models/ guard). The full pipeline is
exercised by `bash scripts/train-models.sh --smoke` (phantoms, node CLI; minutes on a CPU)."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train-models.sh")


def _run(*args, cwd=ROOT):
    return subprocess.run(["bash", SCRIPT, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_help_lists_both_devices_and_the_documented_defaults():
    r = _run("--help")
    assert r.returncode == 0, r.stderr
    for text in ("--device cpu", "--device cuda", "1000-1015 2000-2007", "^s200[0-7]/case_002$", "--smoke",
                 "80001", "--overwrite-models"):
        assert text in r.stdout, text


def test_unknown_options_and_devices_are_refused():
    r = _run("--frobnicate")
    assert r.returncode == 2 and "unknown option --frobnicate" in r.stderr
    r = _run("--device", "tpu")
    assert r.returncode == 2 and "--device must be cpu or cuda" in r.stderr


def test_the_shipped_models_folder_is_not_overwritten_unless_asked(tmp_path):
    before = {f: os.path.getmtime(os.path.join(ROOT, "models", f)) for f in os.listdir(os.path.join(ROOT, "models"))}
    r = _run("--work", str(tmp_path / "w"), "--out", os.path.join(ROOT, "models"))
    assert r.returncode == 2 and "--overwrite-models" in r.stderr
    after = {f: os.path.getmtime(os.path.join(ROOT, "models", f)) for f in os.listdir(os.path.join(ROOT, "models"))}
    assert after == before
    assert not (tmp_path / "w" / "phantoms").exists()  # refused before any work


def test_styles_mixed_is_offered_and_the_held_out_shift_look_is_refused():
    r = _run("--help")
    assert "mixed (even batch" in r.stdout
    r = _run("--style", "shift")
    assert r.returncode == 2 and "--style must be randomised, classic or mixed, got shift" in r.stderr


def test_every_style_gets_past_the_set_up_to_the_phantoms(tmp_path):
    # A `lascar` that fails at once: the script must reach the phantom stage (set -e stops it
    # silently on any setup line that returns non-zero) and then say that a phantom job failed.
    for style in ("randomised", "classic", "mixed"):
        r = subprocess.run(["bash", SCRIPT, "--style", style, "--seeds", "1000", "--work", str(tmp_path / style)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, "LASCAR": "false"})
        assert "phantoms + shards (1 seeds)" in r.stdout, (style, r.stdout, r.stderr)
        assert r.returncode == 1 and "a phantom/shard job failed" in r.stderr, (style, r.stderr)


def test_soup_is_offered():
    r = _run("--help")
    assert "--soup" in r.stdout and "la-soup-epochNNN" in r.stdout
