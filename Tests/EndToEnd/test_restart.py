"""Checkpoint and restart: a run stopped (by a signal, or by reaching its last
step) and continued on other rank and thread counts ends bitwise identical to
a run that never stopped, fields and diagnostics alike, in a results file
that goes on with the same time series."""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pytest

from conftest import (BIG_INPUT, MINIAPP, MPI_FAMILY, REPO, assert_the_cut_checkpoint_left_the_previous_one, heat_input,
                      kill_during_the_stop_checkpoint, launch, launched, rank_processes, wait_for_path)

pytestmark = pytest.mark.correctness

# Timings differ from run to run; everything else must not.
NOT_COMPARED = ("solve_seconds",)


def series(path):
    """Every dataset of /fields, /diagnostics and /summary, by name."""
    out = {}
    with h5py.File(path) as f:
        for group in ("fields", "diagnostics", "summary"):
            if group in f:
                for name, item in f[group].items():
                    if name not in NOT_COMPARED:
                        out[f"{group}/{name}"] = item[()]
    return out


def assert_bitwise_equal(path, reference):
    got, want = series(path), series(reference)
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].shape == want[name].shape, (name, got[name].shape, want[name].shape)
        assert got[name].tobytes() == want[name].tobytes(), f"{name} differs"


def write_input(tmp_path, document, name="input.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2))
    return path


# A heat run whose snapshots, diagnostics and checkpoints fall on different steps.
CHAIN_INPUT = heat_input(time={"steps": 120}, output={"path": "heat.h5", "every": 20, "diagnostics_every": 10,
                                                     "checkpoint_every": 40})


def test_restart_chain_4x1_2x2_3x1_is_bitwise_identical(tmp_path):
    source = write_input(tmp_path, CHAIN_INPUT)
    reference = launched(tmp_path, 1, 2, ["--output", "reference.h5", "--checkpoint-every", "0", str(source)])
    assert reference.returncode == 0, reference.stderr

    # 4 ranks x 1 thread: steps 0-40; 2 x 2: 40-80; 3 x 1: 80-120, each from the last checkpoint.
    first = launched(tmp_path, 4, 1, ["--steps", "40", str(source)])
    assert first.returncode == 0, first.stderr
    assert "checkpoint  heat.chk.h5: every 40 steps and on a stop signal" in first.stdout
    with h5py.File(tmp_path / "heat.chk.h5") as f:
        assert f.attrs["step"] == 40 and f.attrs["ranks"] == 4 and f.attrs["problem"] == "heat"
        assert f["state/u"].shape == (45, 67)
    second = launched(tmp_path, 2, 2, ["--restart", "heat.chk.h5", "--steps", "80"])
    assert second.returncode == 0, second.stderr
    assert "restart     from 'heat.chk.h5': step 40" in second.stdout
    third = launched(tmp_path, 3, 1, ["--restart", "heat.chk.h5", str(source)])
    assert third.returncode == 0, third.stderr

    assert_bitwise_equal(tmp_path / "heat.h5", tmp_path / "reference.h5")
    with h5py.File(tmp_path / "heat.h5") as f:
        assert list(f["fields/step"][:]) == [0, 20, 40, 60, 80, 100, 120]
        assert f.attrs["restart_step"] == 80 and f.attrs["ending"] == "completed"
        assert f.attrs["steps_this_run"] == 40 and f["timings/phases"].shape[0] == 3
        assert f.attrs["ranks"] == 3
    # The sidecar lists every snapshot, the carried-over ones included.
    assert (tmp_path / "heat.xmf").read_text().count("<Grid Name=\"step") == 7
    assert not list(tmp_path.glob("*.incomplete"))


def test_restart_changes_scheme_and_decomposition_not_results(tmp_path):
    document = json.loads(json.dumps(CHAIN_INPUT))
    document["boundary"] = {"x": "periodic", "y": "dirichlet", "value": 0.25}
    source = write_input(tmp_path, document)
    assert launched(tmp_path, 2, 1, ["--output", "reference.h5", "--checkpoint-every", "0", str(source)]).returncode == 0
    assert launched(tmp_path, 2, 1, ["--steps", "40", str(source)]).returncode == 0
    # The same problem with a deep halo and temporal blocking, on a forced 1 x 3 grid.
    document["scheme"] = {"halo_depth": 3, "temporal_blocking": True}
    document["decomposition"] = {"dims": [1, 3]}
    changed = write_input(tmp_path, document, "changed.json")
    run = launched(tmp_path, 3, 1, ["--restart", "heat.chk.h5", str(changed)])
    assert run.returncode == 0, run.stderr
    assert_bitwise_equal(tmp_path / "heat.h5", tmp_path / "reference.h5")


def start_run(tmp_path, np, threads, args):
    """The launcher (mpirun, mpiexec: `miniapp launch` becomes it), not waited for."""
    command = launch(MINIAPP, np, "--threads", threads) + ["--verbose", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)


def wait_for_steps(process, steps=1):
    """Reads the progress table until `steps` rows past the first are printed."""
    seen = 0
    for line in process.stdout:
        fields = line.split()
        if fields and fields[0].isdigit() and int(fields[0]) > 0:
            seen += 1
            if seen >= steps:
                return
    raise AssertionError("the run ended before it printed progress")


# Long enough to be stopped midway (about 5 s here; SIGTERM reaches the ranks
# through Open MPI's mpirun only after a second).
LONG_STEPS = 300_000
LONG_INPUT = heat_input(grid={"nx": 160, "ny": 120}, time={"steps": LONG_STEPS},
                        output={"path": "long.h5", "every": 50_000, "diagnostics_every": 10_000})


@pytest.mark.parametrize("sent", ["SIGUSR1", "SIGTERM"])
def test_signal_to_the_launcher_checkpoints_and_the_restart_ends_identical(tmp_path, sent):
    source = write_input(tmp_path, LONG_INPUT)
    process = start_run(tmp_path, 3, 1, ["--json", "stopped.json", str(source)])
    wait_for_steps(process, 2)
    process.send_signal(getattr(signal, sent))
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    # Open MPI's mpirun forwards SIGUSR1 at once; SIGTERM it turns into SIGCONT, then
    # SIGTERM after odls_base_sigkill_timeout (1 s), and SIGKILL as long again after
    # that. Hydra's mpiexec forwards both at once.
    assert time.monotonic() - started < 20
    assert f"miniapp: stopped by {sent} after step" in stderr, stderr
    # Before the write, the way on: the checkpoint a kill during it would leave (none here).
    assert (f"miniapp: stopping on {sent} after step" in stderr.split("miniapp: stopped by")[0]
            and "Should the ranks be killed before it is complete, there is no earlier checkpoint" in stderr), stderr
    if sent == "SIGUSR1":   # the lines the guide quotes are the program's
        guide = (REPO / "docs/guide/restart-and-faults.md").read_text()
        for line in re.search(r"The two lines it prints.*?```text\n(.*?)```", guide, re.S)[1].strip().splitlines():
            pattern = re.sub(r"\d+", r"\\d+", re.escape(line)).replace(r"stopped\.", r"long\.")
            assert re.search(pattern, stderr), line
    # Under mpirun, the SIGTERM the ranks see may have been a Ctrl-C: the message says so.
    assert ("Under mpirun, SIGTERM is what mpirun sends the ranks on Ctrl-C" in stderr) == (
        sent == "SIGTERM" and MPI_FAMILY == "openmpi"), stderr
    # Both exit with the ranks' status for a forwarded signal; mpirun with 1 when it was told to stop.
    # Hydra's mpiexec now and then loses its processes' statuses and exits 0 (pmodels/mpich#7057;
    # seen once in a CI run here): under MPICH 0 is taken too, the stop itself is checked below.
    expected = {1} if sent == "SIGTERM" and MPI_FAMILY == "openmpi" else {75} if MPI_FAMILY == "openmpi" else {75, 0}
    assert process.returncode in expected, stderr
    stopped_at = int(stderr.split("after step ")[1].split(":")[0])
    assert 0 < stopped_at < LONG_STEPS
    with h5py.File(tmp_path / "long.chk.h5") as f:
        assert f.attrs["step"] == stopped_at
    with h5py.File(tmp_path / "long.h5") as f:   # closed cleanly at the stop
        assert f.attrs["ending"] == "stopped" and f.attrs["stopped_at_step"] == stopped_at
        assert f.attrs["stopped_by"] == sent
        assert f["diagnostics/step"][-1] <= stopped_at
    assert not list(tmp_path.glob("*.incomplete"))
    # The --json summary is written for a stopped run too: the steps it made, and the run's metadata.
    summary = json.loads((tmp_path / "stopped.json").read_text())
    assert summary["metrics"]["steps"] == stopped_at and isinstance(summary["metrics"]["nx"], int)
    assert summary["metadata"]["git_commit"] and summary["metadata"]["num_hosts"] == 1
    shown = subprocess.run([str(REPO / "tools/miniapp-report"), "show", str(tmp_path / "long.h5")], capture_output=True,
                           text=True)
    assert f"stopped by {sent} after step {stopped_at}" in shown.stdout, shown.stdout + shown.stderr

    restarted = launched(tmp_path, 2, 1, ["--restart", "long.chk.h5"])
    assert restarted.returncode == 0, restarted.stderr
    # One rank of two threads: no core shared (an oversubscribed MPICH job is slow, MPI-IO polls).
    reference = launched(tmp_path, 1, 2, ["--output", "reference.h5", str(source)])
    assert reference.returncode == 0, reference.stderr
    assert_bitwise_equal(tmp_path / "long.h5", tmp_path / "reference.h5")


@pytest.mark.skipif(MPI_FAMILY != "openmpi", reason="Hydra's mpiexec forwards SIGINT and waits for the ranks: no kill")
def test_mpirun_killing_the_ranks_during_the_stop_checkpoint_leaves_the_previous_one(tmp_path):
    """Ctrl-C at mpirun: the ranks get SIGTERM and start their checkpoint,
    which takes about as long as mpirun waits (1 s) before SIGKILL. The kill
    comes in the middle of the write (sent here as soon as the write has
    begun, if mpirun's own is not first). The checkpoint before is kept."""
    source = write_input(tmp_path, BIG_INPUT)
    process = subprocess.Popen(launch(MINIAPP, 2, "--threads", 1) + [str(source)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    wait_for_path(tmp_path / "big.chk.h5", process)
    ranks = list(rank_processes(process.pid).values())
    process.send_signal(signal.SIGINT)

    def kill_ranks():
        for pid in ranks:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    kill_during_the_stop_checkpoint(tmp_path, process, kill_ranks)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr   # mpirun's own status when it was interrupted
    assert "Under mpirun, SIGTERM is what mpirun sends the ranks on Ctrl-C" in stderr, stderr
    assert_the_cut_checkpoint_left_the_previous_one(tmp_path, stderr)


def wait_until_delivered(pid, sent):
    """Until `sent`, sent to the process, is no longer pending: a second
    signal of the same kind sent before would merge with it (standard signals
    are not queued), which happens when the rank is not running at the time."""
    mask = 1 << (sent - 1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
        except OSError:   # the rank has ended: nothing is pending any more
            return
        if not (int(fields["ShdPnd"], 16) | int(fields["SigPnd"], 16)) & mask:
            return
        time.sleep(0.0002)
    raise AssertionError(f"signal {sent} still pending at rank {pid}")


def test_second_signal_exits_at_once_and_leaves_no_partial_file(tmp_path):
    source = write_input(tmp_path, LONG_INPUT)
    # An earlier complete results file under the same name must survive.
    earlier = launched(tmp_path, 2, 1, ["--steps", "10", str(source)])
    assert earlier.returncode == 0, earlier.stderr
    before = (tmp_path / "long.h5").read_bytes()
    process = start_run(tmp_path, 2, 1, ["--force", str(source)])
    wait_for_steps(process, 1)
    ranks = list(rank_processes(process.pid).values())
    assert len(ranks) == 2
    for _ in range(2):
        for pid in ranks:
            try:
                os.kill(pid, signal.SIGUSR1)
            except ProcessLookupError:   # ended already: the first rank's second signal ends the job
                continue
            wait_until_delivered(pid, signal.SIGUSR1)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 10
    assert process.returncode == 128 + signal.SIGUSR1, stderr
    assert not list(tmp_path.glob("*.incomplete"))
    assert (tmp_path / "long.h5").read_bytes() == before


def test_tealeaf_ppcg_restart_is_bitwise_identical(tmp_path):
    document = json.loads((REPO / "inputs/tea_bm_2.json").read_text())
    document["solver"]["method"] = "ppcg"   # eigenvalue estimates are state too
    document["output"].update({"path": "tea.h5", "every": 3, "summary_every": 2, "checkpoint_every": 6})
    source = write_input(tmp_path, document)
    reference = launched(tmp_path, 1, 2, ["--output", "reference.h5", "--checkpoint-every", "0", str(source)], timeout=300)
    assert reference.returncode == 0, reference.stderr
    # Stopped where a snapshot and a summary fall anyway (a run's last step gets both).
    first = launched(tmp_path, 2, 1, ["--steps", "6", str(source)], timeout=300)
    assert first.returncode == 0, first.stderr
    with h5py.File(tmp_path / "tea.chk.h5") as f:
        assert f.attrs["step"] == 6
        assert f["state"].attrs["eigenvalue_min"] > 0
    second = launched(tmp_path, 3, 1, ["--restart", "tea.chk.h5", str(source)], timeout=300)
    assert second.returncode == 0, second.stderr
    assert "PASSED" in second.stdout
    assert_bitwise_equal(tmp_path / "tea.h5", tmp_path / "reference.h5")


def test_crash_restart_keeps_state_and_diagnostics_and_says_what_is_missing(tmp_path):
    """A run that dies (here: an injected write failure) loses its unfinished
    results file; the restart from the last checkpoint still ends with the same
    state and complete diagnostics, and warns that earlier snapshots are gone."""
    source = write_input(tmp_path, CHAIN_INPUT)
    reference = launched(tmp_path, 2, 1, ["--output", "reference.h5", "--checkpoint-every", "0", str(source)])
    assert reference.returncode == 0
    crashed = launched(tmp_path, 3, 1, [str(source)], timeout=120, env={"MINIAPP_FAULT": "write:rank=2:step=60:file=output"})
    assert crashed.returncode == 74, crashed.stderr
    assert not (tmp_path / "heat.h5").exists() and not list(tmp_path.glob("*.incomplete"))
    restarted = launched(tmp_path, 2, 2, ["--restart", "heat.chk.h5"])
    assert restarted.returncode == 0, restarted.stderr
    assert "the snapshots of steps 0...40 could not be taken over from 'heat.h5'" in restarted.stderr
    got, want = series(tmp_path / "heat.h5"), series(tmp_path / "reference.h5")
    for name in want:
        if name.startswith("diagnostics/"):
            assert got[name].tobytes() == want[name].tobytes(), name
    assert list(got["fields/step"]) == [60, 80, 100, 120]
    assert got["fields/u"].tobytes() == want["fields/u"][3:].tobytes()
