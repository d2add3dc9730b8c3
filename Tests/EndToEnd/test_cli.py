"""The command line: help, version, overrides, the thread-count defaults and
the binding warning."""

import os
import subprocess

from conftest import MINIAPP, MPI_FAMILY, heat_input


def test_help_and_version():
    help_text = subprocess.run([str(MINIAPP), "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0
    for option in ["--threads", "--output", "--steps", "--dims", "--force", "--quiet", "--verbose", "INPUT", "bench"]:
        assert option in help_text.stdout
    run_help = subprocess.run([str(MINIAPP), "help", "run"], capture_output=True, text=True)
    for option in ["--threads <N>", "--output <PATH>", "--json <PATH>", "--profile <N>", "Threads per MPI rank"]:
        assert option in run_help.stdout
    version = subprocess.run([str(MINIAPP), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("miniapp ")


def test_help_once_under_a_launcher(run_miniapp, tmp_path):
    # Parsed before MPI starts, on every rank; rank 0 alone prints.
    run = run_miniapp(heat_input(), np=3, args=["--help"])
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("USAGE:") == 1 and "--threads" in run.stdout
    version = run_miniapp(heat_input(), np=3, args=["--version"])
    assert version.returncode == 0 and version.stdout.count("miniapp ") == 1
    assert not (tmp_path / "heat.h5").exists()


def test_overrides_reach_the_run_and_the_effective_input(run_miniapp, tmp_path):
    out = tmp_path / "override.h5"
    run = run_miniapp(heat_input(), np=4, args=["--steps", "7", "--dims", "1x4", "--output", str(out)])
    assert run.returncode == 0, run.stderr
    import h5py, json
    with h5py.File(out) as f:
        config = json.loads(f.attrs["input_json"])
        assert config["time"]["steps"] == 7 and f["fields/step"][-1] == 7
        assert config["decomposition"]["dims"] == [1, 4] and list(f.attrs["dims"]) == [1, 4]
        assert config["output"]["path"] == str(out)


def test_set_sweeps_keys_without_editing_the_input(run_miniapp, tmp_path):
    """--set gives the same bits as the file edited by hand, is recorded, and
    is checked like the file (one message from rank 0, nothing written)."""
    import h5py, json
    edited = heat_input(grid={"nx": 40, "ny": 24}, boundary={"x": "periodic"})
    by_hand = run_miniapp(edited, np=2, name="by_hand")
    assert by_hand.returncode == 0, by_hand.stderr
    settings = ["--set", "grid.nx=40", "--set", "grid.ny=24", "--set", "boundary.x=periodic"]
    swept = run_miniapp(heat_input(), np=3, args=settings, name="swept")
    assert swept.returncode == 0, swept.stderr
    with h5py.File(by_hand.output) as a, h5py.File(swept.output) as b:
        assert a["fields/u"][:].tobytes() == b["fields/u"][:].tobytes()
        config = json.loads(b.attrs["input_json"])
        assert config["grid"]["nx"] == 40 and config["boundary"]["x"] == "periodic"
        assert b.attrs["input_overrides"] == "--set grid.nx=40 --set grid.ny=24 --set boundary.x=periodic"
    bad = run_miniapp(heat_input(), np=3, args=["--set", "grid.nx=-2"], name="bad")
    assert bad.returncode == 65
    assert bad.errors() == ["miniapp: error: --set grid.nx=-2: 'grid.nx' must be an integer from 1 to 2147483648, got -2"]
    malformed = run_miniapp(heat_input(), np=3, args=["--set", "grid.nx"], name="malformed")
    assert malformed.returncode == 64 and len(malformed.errors()) == 1 and "KEY.PATH=VALUE" in malformed.errors()[0]
    assert not (tmp_path / "bad.h5").exists() and not (tmp_path / "malformed.h5").exists()


def test_set_on_a_tealeaf_deck_and_on_a_restart(run_miniapp, tmp_path):
    import h5py, shutil
    from conftest import REPO
    deck = tmp_path / "bm1.in"
    shutil.copy(REPO / "inputs/tea_bm_1.in", deck)
    run = run_miniapp(deck, np=2, args=["--set", "grid.x_cells=20", "--set", "time.end_step=3", "--output",
                                        str(tmp_path / "bm1.h5")])
    assert run.returncode == 0, run.stderr
    with h5py.File(tmp_path / "bm1.h5") as f:
        assert f.attrs["nx"] == 20 and f.attrs["steps"] == 3
    wrong = run_miniapp(deck, np=2, args=["--set", "x_cells=20"], name="wrong")
    assert wrong.errors() == ["miniapp: error: --set x_cells=20: unknown key 'x_cells'; did you mean 'grid.x_cells'?"]
    # A restart takes --set for what a restart may change, and refuses the rest.
    first = run_miniapp(heat_input(time={"steps": 20}, output={"checkpoint_every": 10}), np=2, name="first")
    assert first.returncode == 0, first.stderr
    checkpoint = tmp_path / "first.chk.h5"
    again = run_miniapp(None, np=2, args=["--restart", str(checkpoint), "--set", "time.steps=30"], name="again")
    assert again.returncode == 0, again.stderr
    with h5py.File(first.output) as f:   # a restart continues the results file of the run it continues
        assert f["fields/step"][-1] == 30 and f.attrs["input_overrides"] == "--set time.steps=30"
    changed = run_miniapp(None, np=2, args=["--restart", str(checkpoint), "--set", "physics.alpha=0.5",
                                            "--set", "time.steps=30"], name="changed")
    assert changed.returncode == 65 and "does not continue the run" in changed.errors()[0]


def test_run_metadata_in_the_results_and_the_summary(run_miniapp, tmp_path):
    """Adiak-style keys: the build, the libraries, the machine, the job and its launch."""
    import h5py, json, subprocess
    from conftest import REPO
    summary = tmp_path / "summary.json"
    run = run_miniapp(heat_input(), np=2, args=["--json", str(summary)], env={"PBS_JOBID": "4242.server"})
    assert run.returncode == 0, run.stderr
    document = json.loads(summary.read_text())
    metadata = document["metadata"]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    assert metadata["git_commit"].split("-")[0] == commit   # "-modified" when the tree had changes
    assert metadata["compiler"].startswith("Swift version") and metadata["mpi_compiler_wrapper"]
    assert metadata["job_id"] == "4242.server" and metadata["num_hosts"] == 1 and metadata["hostnames"]
    assert "--json" in metadata["command_line"] and metadata["launcher"] and metadata["user"]
    assert metadata["cpu_model"] and metadata["hdf5_version"] and metadata["mpi_library"]
    # Counts are integers, rates and times floating point.
    assert isinstance(document["metrics"]["nx"], int) and isinstance(document["metrics"]["steps"], int)
    assert isinstance(document["metrics"]["mlups"], float)
    with h5py.File(run.output) as f:
        for key, value in metadata.items():
            assert f.attrs[key] == str(value), key


def test_threads_from_the_environment(run_miniapp):
    for env, expected in [({"SLURM_CPUS_PER_TASK": "3", "OMP_NUM_THREADS": "2"}, 3),
                          ({"OMP_NUM_THREADS": "2"}, 2), ({}, 1)]:
        clean = {k: v for k, v in os.environ.items() if k not in ("SLURM_CPUS_PER_TASK", "OMP_NUM_THREADS")}
        run = run_miniapp(heat_input(time={"steps": 3}), np=1, threads=None, env={**clean, **env})
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            assert f.attrs["threads"] == expected


def test_binding_warning_once_when_threads_share_a_core(run_miniapp):
    # The launcher told of one thread per rank binds each rank to one core; miniapp is then asked for 2.
    run = run_miniapp(heat_input(time={"steps": 3}), np=2, threads=None, args=["--threads", "2"],
                      launch_args=["--bind", "cores"])
    assert run.returncode == 0, run.stderr
    warnings = [l for l in run.stderr.splitlines() if l.startswith("miniapp: warning:")]
    assert len(warnings) == 1 and "miniapp launch --threads 2" in warnings[0], warnings
    assert ("--map-by slot:PE=2" if MPI_FAMILY == "openmpi" else "-bind-to core:2") in warnings[0]
    # Given a core per thread, no warning.
    quiet = run_miniapp(heat_input(time={"steps": 3}), np=1, threads=2)
    assert "warning" not in quiet.stderr


def test_quiet_prints_nothing(run_miniapp):
    run = run_miniapp(heat_input(), np=2, args=["--quiet"])
    assert run.returncode == 0 and run.stdout == ""
