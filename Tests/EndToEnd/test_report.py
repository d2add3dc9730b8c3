"""The post-processing tool (tools/miniapp-report) and the local scaling
driver (jobs/submit-scaling --local), on files produced by real runs."""

import csv
import json
import os
import subprocess
import sys

import h5py
import pytest

from conftest import MINIAPP, REPO, heat_input

REPORT = REPO / "tools" / "miniapp-report"
PNG = b"\x89PNG\r\n\x1a\n"


def report(*args, cwd=None):
    return subprocess.run([str(REPORT), *map(str, args)], capture_output=True, text=True, cwd=cwd)


def assert_png(path, min_bytes=5000):
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > min_bytes, path


def study(tmp_path, kind, ranks="1,2", threads="1,2", document=None, steps=40, extra=("--oversubscribe",)):
    source = tmp_path / "input.json"
    source.write_text(json.dumps(document or heat_input(time={"steps": steps}, output={"every": 0, "diagnostics_every": 0})))
    directory = tmp_path / f"{kind}-study"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), kind, "--local", "--ranks", ranks, "--threads", threads,
                             "--input", str(source), "--study-dir", str(directory), *extra],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return directory, result.stdout


def test_local_strong_scaling_study(tmp_path):
    directory, stdout = study(tmp_path, "strong")
    assert "strong scaling, 4 runs" in stdout
    rows = list(csv.DictReader((directory / "report/scaling.csv").open()))
    assert [(r["ranks"], r["threads"]) for r in rows] == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    assert {r["cores"] for r in rows} == {"1", "2", "4"}
    assert float(rows[0]["speedup"]) == 1.0 and float(rows[0]["efficiency"]) == 1.0
    for r in rows:
        assert float(r["time_per_step"]) > 0 and float(r["rate"]) > 0
        assert abs(float(r["efficiency"]) - float(r["speedup"]) / float(r["ideal_speedup"])) < 1e-9
    markdown = (directory / "report/scaling.md").read_text()
    assert markdown.count("\n| ") == 5   # header + 4 rows
    # 2 x 2 on a machine of fewer than 4 cores ran with --oversubscribe: marked as such, and said why.
    cores = len(os.sched_getaffinity(0))
    assert [r["oversubscribed"] for r in rows] == ["yes" if int(r["cores"]) > cores else "no" for r in rows]
    if cores < 4:
        assert "cores shared: 2x2 ran more threads than their machine has CPUs for" in stdout
        assert "cores shared: 2x2" in markdown
    for image in ("speedup.png", "time_per_step.png", "phases.png"):
        assert_png(directory / "report" / image)
    assert len(list((directory / "results").glob("*.h5"))) == 4


def test_local_weak_scaling_keeps_points_per_core(tmp_path):
    directory, stdout = study(tmp_path, "weak", ranks="1,2,4", threads="1")
    assert "weak scaling, 3 runs" in stdout
    grids = {}
    for path in (directory / "results").glob("*.h5"):
        with h5py.File(path) as f:
            grids[int(f.attrs["ranks"])] = (int(f.attrs["nx"]), int(f.attrs["ny"]))
    nx, ny = grids[1]
    for ranks, (gx, gy) in grids.items():
        assert gx * gy == ranks * nx * ny   # the same points per core
    assert grids[2] == (2 * nx, ny) and grids[4] == (2 * nx, 2 * ny)


def test_show_and_field_images(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(output={"every": 20, "diagnostics_every": 10}), np=3, threads=1, name="shown")
    assert run.returncode == 0, run.stderr
    shown = report("show", run.output, "--plot", tmp_path / "diagnostics.png")
    assert shown.returncode == 0, shown.stderr
    for text in ["3 ranks x 1 threads", '"problem": "heat"', "decomposition:", "timings", "halo_wait",
                 "diagnostics/l2_error", "wrote"]:
        assert text in shown.stdout, text
    assert_png(tmp_path / "diagnostics.png")
    images = report("field", run.output, "--snapshot", "all", "--out", tmp_path / "fields")
    assert images.returncode == 0, images.stderr
    written = sorted((tmp_path / "fields").glob("*.png"))
    assert len(written) == 4
    for path in written:
        assert_png(path)


def test_report_on_tealeaf_and_integrate_runs(run_miniapp, tmp_path):
    tea = json.loads((REPO / "inputs/tea_bm_1.json").read_text())
    run = run_miniapp(tea, np=2, name="tea")
    assert run.returncode == 0, run.stderr
    shown = report("show", run.output, "--plot", tmp_path / "tea.png")
    assert shown.returncode == 0 and "summary/temperature" in shown.stdout, shown.stderr
    assert_png(tmp_path / "tea.png")
    assert report("field", run.output, "--field", "density", "--out", tmp_path).returncode != 0  # density is static
    assert report("field", run.output, "--out", tmp_path).returncode == 0


def test_scaling_from_json_summaries_agrees_with_the_result_files(run_miniapp, tmp_path):
    """A study from the runs' --json summaries gives the table of their
    result files (imbalance, from min/avg/max alone, at least as large),
    draws the one-figure story with a peer code beside it, and reads the
    summaries that earlier versions wrote (counts as floats, no metadata):
    the 16-core node's strong-scaling runs published in docs/results."""
    runs = []
    for np_ in (1, 2):
        name = f"run{np_}"
        run = run_miniapp(heat_input(time={"steps": 30}, output={"every": 0, "diagnostics_every": 10}), np=np_,
                          name=name, args=["--json", str(tmp_path / f"{name}.json")])
        assert run.returncode == 0, run.stderr
        runs.append(run)
    peer = tmp_path / "peer.csv"
    peer.write_text("ranks,threads,time_per_step\n1,1,0.01\n2,1,0.006\n")
    from_files = report("scaling", *[r.output for r in runs], "--out", tmp_path / "h5")
    from_summaries = report("scaling", *sorted(tmp_path.glob("run*.json")), "--out", tmp_path / "json",
                            "--peer", f"another code={peer}", "--machine", "this machine")
    assert from_files.returncode == 0 and from_summaries.returncode == 0, from_files.stderr + from_summaries.stderr
    rows = {kind: list(csv.DictReader((tmp_path / kind / "scaling.csv").open())) for kind in ("h5", "json")}
    for a, b in zip(rows["h5"], rows["json"]):
        for key in ("ranks", "threads", "cores", "grid", "steps", "time_per_step", "rate", "speedup", "efficiency",
                    "oversubscribed"):
            assert a[key] == b[key], key
        assert float(b["imbalance"]) >= float(a["imbalance"]) - 1e-12
    assert_png(tmp_path / "json" / "scaling.png")

    published = REPO / "docs/results/2026-12-04-xeon-16-cores"
    node = report("scaling", *sorted(published.glob("m_*.json")), "--out", tmp_path / "node",
                  "--peer", f"CSC heat-equation={published / 'csc-heat-equation.csv'}")
    assert node.returncode == 0, node.stderr
    table = {(r["ranks"], r["threads"]): r for r in csv.DictReader((tmp_path / "node" / "scaling.csv").open())}
    assert len(table) == 7 and table[("1", "1")]["grid"] == "8192x8192" and table[("16", "1")]["steps"] == "100"
    assert abs(float(table[("16", "1")]["rate"]) - 4962.9) < 0.1   # the summary's own mlups
    assert "| 16 | 1 | 1 | 16 | 8192x8192 | 100 |" in (tmp_path / "node" / "scaling.md").read_text()

    broken = tmp_path / "broken.json"
    broken.write_text('{"problem": "heat"}')
    result = report("scaling", broken)
    assert result.returncode == 2 and "not the --json summary of a miniapp run" in result.stderr
    assert "Traceback" not in result.stderr
    result = report("scaling", runs[0].output, "--peer", "no-file")
    assert result.returncode == 2 and "LABEL=FILE.csv" in result.stderr


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("not hdf5"), "not an HDF5 file"),
    (lambda p: h5py.File(p, "w").close(), "not a complete miniapp result file"),
])
def test_clear_errors_for_files_that_are_not_ours(tmp_path, make, message):
    path = tmp_path / "other.h5"
    make(path)
    for command in (["show", path], ["scaling", path], ["field", path]):
        result = report(*command)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_incomplete_files_are_named_as_such(tmp_path):
    path = tmp_path / "run.h5.incomplete"
    path.write_bytes(b"")
    result = report("show", path)
    assert result.returncode == 2 and "incomplete" in result.stderr


def test_local_studies_refuse_more_threads_than_cores_and_no_slurm_leaves_nothing(tmp_path):
    """Without --oversubscribe, a configuration that shares cores is refused
    before anything runs; without --local and without Slurm, the study says
    what to do and leaves no folder."""
    source = tmp_path / "input.json"
    source.write_text(json.dumps(heat_input(time={"steps": 10})))
    too_many = len(os.sched_getaffinity(0)) + 1
    directory = tmp_path / "refused"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--local", "--ranks", f"1,{too_many}",
                             "--threads", "1", "--input", str(source), "--study-dir", str(directory)],
                            capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode != 0 and f"{too_many}x1" in result.stderr and "--oversubscribe" in result.stderr
    assert not directory.exists()
    no_slurm = {key: value for key, value in os.environ.items() if not key.startswith("SLURM")}
    no_slurm["PATH"] = str(tmp_path)   # no sbatch, no squeue
    directory = tmp_path / "unsubmitted"
    result = subprocess.run([sys.executable, str(REPO / "jobs/submit-scaling"), "strong", "--ranks", "1",
                             "--threads", "1", "--input", str(source), "--study-dir", str(directory),
                             "--miniapp", str(MINIAPP)],
                            capture_output=True, text=True, cwd=REPO, timeout=60, env=no_slurm)
    assert result.returncode != 0 and "no Slurm here" in result.stderr and "--local" in result.stderr, result.stderr
    assert not directory.exists()
