"""Every bad input: one clear message from rank 0, a non-zero exit, every
rank finished within seconds, and no output file (complete or not) left."""

import json
import os
import re

import pytest

from conftest import REPO, heat_input

pytestmark = pytest.mark.correctness

CASES = {
    # name: (change to the input, expected exit status, words the message must contain)
    "unknown key": (lambda d: d["grid"].update({"nxx": 3}), 65, ["unknown key 'grid.nxx'; did you mean 'grid.nx'?"]),
    "unknown key in wrong section": (lambda d: d["time"].update({"alpha": 2}), 65,
                                     ["unknown key 'time.alpha'; it belongs in 'physics'"]),
    "wrong type": (lambda d: d["grid"].update({"nx": "512"}), 65, ["'grid.nx' must be an integer from 1", "string"]),
    "fractional size": (lambda d: d["grid"].update({"ny": 45.5}), 65, ["grid.ny", "integer"]),
    "zero size": (lambda d: d["grid"].update({"nx": 0}), 65, ["grid.nx", "got 0"]),
    "negative size": (lambda d: d["grid"].update({"ny": -4}), 65, ["grid.ny", "got -4"]),
    "zero length": (lambda d: d["grid"].update({"lx": 0}), 65, ["grid.lx", "> 0"]),
    "alpha zero": (lambda d: d["physics"].update({"alpha": 0}), 65, ["physics.alpha", "> 0"]),
    "alpha negative": (lambda d: d["physics"].update({"alpha": -1.5}), 65, ["physics.alpha"]),
    "dt above stability": (lambda d: d["time"].update({"dt": 1.0}), 65, ["time.dt", "stability limit"]),
    "bad boundary": (lambda d: d["boundary"].update({"x": "periodc"}), 65, ["'boundary.x'", "did you mean 'periodic'"]),
    "bad problem": (lambda d: d.update({"problem": "wave"}), 65, ["'problem'", "'heat'"]),
    "missing grid size": (lambda d: d["grid"].pop("nx"), 65, ["'grid.nx' is missing"]),
    "safety above one": (lambda d: d["time"].update({"safety": 1.5}), 65, ["time.safety"]),
    "modes wrong length": (lambda d: d["initial"].update({"modes": [1]}), 65, ["initial.modes", "2 elements"]),
    "too few points for ranks": (lambda d: d["grid"].update({"nx": 2, "ny": 2}), 65, ["too few points", "6 ranks"]),
    "halo deeper than a block": (lambda d: d.update({"scheme": {"halo_depth": 30}}), 65,
                                 ["scheme.halo_depth 30", "at least 30 points per rank", "22-23 x 22-23"]),
    "dims do not match ranks": (lambda d: d["decomposition"].update({"dims": [4, 4]}), 65, ["4 x 4", "6 ranks"]),
    "unwritable output directory": (lambda d: d["output"].update({"path": "/nonexistent-dir/out.h5"}), 73,
                                    ["/nonexistent-dir", "does not exist"]),
    "output on a read-only file system": (lambda d: d["output"].update({"path": "/proc/miniapp-out.h5"}), 73,
                                          ["cannot write output"]),
}


def assert_clean_failure(run, status, words, tmp_path):
    assert run.returncode == status, (run.returncode, run.stderr)
    errors = run.errors()
    assert len(errors) == 1, run.stderr   # once, from rank 0 only
    for word in words:
        assert word in errors[0], errors[0]
    assert run.seconds < 30
    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix in (".h5", ".xmf", ".incomplete")]
    assert leftovers == [], leftovers


@pytest.mark.parametrize("case", CASES.keys())
def test_bad_input(run_miniapp, tmp_path, case):
    change, status, words = CASES[case]
    document = heat_input()
    change(document)
    run = run_miniapp(document, np=6, timeout=40)
    assert_clean_failure(run, status, words, tmp_path)


def test_invalid_json_names_line_and_column(run_miniapp, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "problem": "heat",\n  "grid": {"nx": 10 "ny": 10}\n}\n')
    run = run_miniapp(path, np=3)
    assert_clean_failure(run, 65, ["broken.json:3:", "invalid JSON", "expected ','"], tmp_path)


def test_duplicate_key(run_miniapp, tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"problem": "heat", "grid": {"nx": 10, "ny": 10, "nx": 12}}')
    assert_clean_failure(run_miniapp(path, np=2), 65, ["duplicate key 'nx'"], tmp_path)


def test_missing_input_file(run_miniapp, tmp_path):
    run = run_miniapp(tmp_path / "nowhere.json", np=3, timeout=40)
    assert_clean_failure(run, 66, ["cannot read input file", "No such file"], tmp_path)


def test_directory_as_input(run_miniapp, tmp_path):
    (tmp_path / "adir").mkdir()
    run = run_miniapp(tmp_path / "adir", np=2, timeout=40)
    assert_clean_failure(run, 66, ["is a directory"], tmp_path)


def test_grid_smaller_than_requested_process_grid(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(grid={"nx": 3, "ny": 40}), np=4, args=["--dims", "4x1"])
    assert_clean_failure(run, 65, ["3 x 40", "4 x 1"], tmp_path)


def test_bad_command_line(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(), np=3, args=["--dims", "4by2"])
    assert run.returncode == 64
    assert run.stderr.count("--dims must look like") == 1
    run = run_miniapp(heat_input(), np=2, threads=0)
    assert run.returncode == 64 and run.stderr.count("--threads must be at least 1") == 1


def test_bad_thread_variable(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(), np=2, threads=None, env={"OMP_NUM_THREADS": "lots"})
    assert_clean_failure(run, 64, ["OMP_NUM_THREADS=lots"], tmp_path)


def test_errors_point_at_the_key(run_miniapp, tmp_path):
    """The column of an error about a key is where the key stands, not its value."""
    source = tmp_path / "typo.json"
    source.write_text('{\n  "problem": "heat", "grid": {"nx": 8, "ny": 8},\n  "output": {"diagnostic_every": 5}\n}\n')
    run = run_miniapp(source, np=2)
    assert run.returncode == 65
    assert run.errors() == [f"miniapp: error: {source}:3:14: unknown key 'output.diagnostic_every'; did you mean "
                            "'output.diagnostics_every'?"]
    source.write_text('{\n  "problem": "heat", "grid": {"nx": 8, "ny": 8},\n  "time": {"steps":   -3}\n}\n')
    run = run_miniapp(source, np=2)
    assert run.errors() == [f"miniapp: error: {source}:3:12: 'time.steps' must be an integer >= 0, got -3"]


def test_the_guide_quotes_what_the_program_prints(run_miniapp, tmp_path):
    """docs/guide/running.md's example of an error, run as written there."""
    text = (REPO / "docs/guide/running.md").read_text()
    document = re.search(r"printf '(.*)\\n' > typo.json", text).group(1)
    quoted = re.search(r"prints `(miniapp: error: typo\.json:[^`]*)`", " ".join(text.split())).group(1)
    (tmp_path / "typo.json").write_text(document + "\n")
    run = run_miniapp(tmp_path / "typo.json", np=2)
    assert run.returncode == 65
    assert [line.replace(str(tmp_path) + "/", "") for line in run.errors()] == [quoted]


def test_command_line_errors_take_the_same_form(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(), np=2, args=["--steps", "many"])
    assert run.returncode == 64
    errors = run.errors()
    assert len(errors) == 1 and errors[0].startswith("miniapp: error: ") and "--steps" in errors[0], run.stderr
    assert "Error:" not in run.stderr
