"""Batch jobs through a real Slurm (munged, slurmctld, slurmd started by
Tests/TestBed/slurm-start, stopped by Tests/TestBed/slurm-stop): on one node, and on a
node per host of the test bed (Tests/TestBed/cluster-start)."""

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import h5py
import pytest

from conftest import (BIG_INPUT, MINIAPP, REPO, SECOND, assert_the_cut_checkpoint_left_the_previous_one, environment_of,
                      heat_input, kill_during_the_stop_checkpoint, launched, mpi_family, wait_for_path)


@pytest.fixture(scope="module")
def slurm():
    if os.geteuid() != 0:
        pytest.skip("starting munged and slurmd needs root (CI runs as root)")
    started = subprocess.run([str(REPO / "Tests/TestBed/slurm-start")], capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    directory = started.stdout.strip().splitlines()[-1]
    env = environment_of(f"{directory}/env")
    yield env
    subprocess.run([str(REPO / "Tests/TestBed/slurm-stop"), directory], timeout=60)


# This build, and the one for the other MPI family where there is one: srun with the plugin each speaks.
BUILDS = [MINIAPP] + ([SECOND] if SECOND else [])
PLUGIN = {"openmpi": "--mpi=pmix", "mpich": "--mpi=pmi2"}


@pytest.mark.parametrize("binary", BUILDS, ids=mpi_family)
def test_sbatch_hybrid_job(slurm, tmp_path, binary):
    source = tmp_path / "small.json"
    source.write_text(__import__("json").dumps(heat_input(time={"steps": 30}, output={"every": 10})))
    env = {**slurm, "INPUT": str(source), "RUN_DIR": str(tmp_path / "run"), "MINIAPP": str(binary)}
    job = subprocess.run(["sbatch", "--wait", "--parsable", "--ntasks=3", "--cpus-per-task=2",
                          f"--output={tmp_path}/job-%j.out", "jobs/hybrid.slurm"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.strip().split(";")[0]
    log = (tmp_path / f"job-{job_id}.out").read_text()
    # sbatch --wait also returns 0 for a job cancelled while pending: check what it did.
    assert f"miniapp job {job_id}: 3 ranks x 2 threads" in log and "Done:" in log, log
    # The project's Slurm binds nothing (TaskPlugin=task/none; docs/guide/batch.md says why): srun says so, once.
    assert log.count("cluster configuration lacks support for cpu binding") <= 1, log
    assert f"srun {PLUGIN[mpi_family(binary)]} --cpus-per-task=2 --cpu-bind=cores {binary.resolve()}" in log, log
    with h5py.File(tmp_path / "run/result.h5") as f:
        assert f.attrs["ranks"] == 3 and f.attrs["threads"] == 2   # srun's --cpus-per-task reached the ranks
        assert list(f["fields/step"][:]) == [0, 10, 20, 30]
        assert f["timings/phases"].shape[0] == 3
    assert (tmp_path / "run/result.xmf").exists()


def test_strong_scaling_study_as_job_array_with_report(slurm, quick_bench, tmp_path):
    source = tmp_path / "small.json"
    source.write_text(__import__("json").dumps(heat_input(output={"every": 0, "diagnostics_every": 0})))
    study = tmp_path / "study"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--ranks", "1,2,4", "--threads", "1,2",
                             "--input", str(source), "--steps", "40", "--study-dir", str(study), "--wait",
                             "--time", "00:05:00", "--model", str(quick_bench)],
                            capture_output=True, text=True, cwd=REPO, env=slurm, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "job array" in result.stdout and "report job" in result.stdout
    rows = list(csv.DictReader((study / "report/scaling.csv").open()))
    assert sorted((int(r["ranks"]), int(r["threads"])) for r in rows) == [(r, t) for r in (1, 2, 4) for t in (1, 2)]
    assert all(int(r["steps"]) == 40 for r in rows)
    assert (study / "logs/report.out").exists() and len(list((study / "logs").glob("run-*.out"))) == 6
    for image in ("speedup.png", "time_per_step.png", "phases.png"):
        assert (study / "report" / image).stat().st_size > 5000
    # The report job read the model's options from the study: the bench's node had its cores for the runs on
    # up to that many cores, not for the others (which the report names).
    assert (study / "report.args").read_text().splitlines() == ["--model", str(study / "bench.json")]
    cores = __import__("json").loads(quick_bench.read_text())["machine"]["cores"]
    for r in rows:
        modelled = r["model_per_step"] != "nan"
        assert modelled == (int(r["cores"]) <= cores), r
        assert float(r["stepping_per_step"]) > 0 and (not modelled or float(r["model_per_step"]) > 0)
    assert ("no model for" in (study / "logs/report.out").read_text()) == any(int(r["cores"]) > cores for r in rows)


def test_a_kill_during_the_stop_checkpoint_under_srun_leaves_the_previous_one(slurm, tmp_path):
    """How Slurm ends a job: SIGTERM to the ranks (scancel; the time limit),
    SIGKILL after KillWait. Here the SIGKILL comes in the middle of the
    checkpoint that the SIGTERM began, as when a checkpoint takes longer
    than KillWait. The checkpoint before is kept."""
    source = tmp_path / "big.json"
    source.write_text(json.dumps(BIG_INPUT))
    process = subprocess.Popen(["srun", "-n", "2", "-J", "cut-checkpoint", PLUGIN[mpi_family(MINIAPP)], str(MINIAPP),
                                str(source)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               env=slurm)
    wait_for_path(tmp_path / "big.chk.h5", process)
    job = subprocess.run(["squeue", "-h", "-n", "cut-checkpoint", "-o", "%i"], capture_output=True, text=True,
                         env=slurm).stdout.split()[0]
    subprocess.run(["scancel", "--signal=TERM", job], check=True, env=slurm)

    def kill_ranks():   # as slurmstepd does after KillWait (scancel --signal=KILL would cancel: SIGTERM first)
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                words = cmdline.read_text().split("\0")
                if words[0] == str(MINIAPP) and str(source) in words:   # the ranks, not srun
                    os.kill(int(cmdline.parent.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
    kill_during_the_stop_checkpoint(tmp_path, process, kill_ranks)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0 and "Killed" in stderr, stderr
    assert_the_cut_checkpoint_left_the_previous_one(tmp_path, stderr)


def test_impossible_job_is_refused_not_left_pending(slurm):
    job = subprocess.run(["sbatch", "--ntasks=64", "--wrap", "true"], capture_output=True, text=True, cwd=REPO, env=slurm)
    assert job.returncode != 0   # EnforcePartLimits=ALL


def test_time_limit_signal_checkpoints_and_a_restart_job_finishes_the_run(slurm, tmp_path):
    """What `#SBATCH --signal=B:USR1@120` does before the time limit, sent at
    once with scancel: the batch shell passes SIGUSR1 to srun and the ranks,
    which checkpoint and stop; a second job with RESTART set finishes the run
    on other rank counts, identical to a run that never stopped."""
    from test_restart import LONG_INPUT, assert_bitwise_equal, write_input
    source = write_input(tmp_path, LONG_INPUT)
    run_dir = tmp_path / "run"
    env = {**slurm, "INPUT": str(source), "RUN_DIR": str(run_dir)}
    job = subprocess.run(["sbatch", "--parsable", "--ntasks=2", "--cpus-per-task=1", f"--output={tmp_path}/job-%j.out",
                          "jobs/hybrid.slurm"], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.strip().split(";")[0]
    log = tmp_path / f"job-{job_id}.out"
    deadline = time.monotonic() + 120
    while "scheme" not in (log.read_text() if log.exists() else ""):   # the time loop has started
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.2)
    signalled = subprocess.run(["scancel", "--signal=USR1", "--batch", job_id], capture_output=True, text=True, env=slurm)
    assert signalled.returncode == 0, signalled.stderr
    while subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True, env=slurm).stdout.strip():
        assert time.monotonic() < deadline + 60, "the job did not stop"
        time.sleep(0.5)
    text = log.read_text()
    assert "miniapp: stopped by SIGUSR1 after step" in text and "RESTART=<the checkpoint it names>" in text, text
    # The hint names the script that was submitted, not Slurm's spooled copy of it.
    assert f"cd {REPO} && RESTART=<the checkpoint it names> sbatch {REPO}/jobs/hybrid.slurm" in text, text
    with h5py.File(run_dir / "result.chk.h5") as f:
        stopped_at = f.attrs["step"]
    assert 0 < stopped_at < LONG_INPUT["time"]["steps"]

    env = {**slurm, "RESTART": str(run_dir / "result.chk.h5")}
    resumed = subprocess.run(["sbatch", "--wait", "--parsable", "--ntasks=3", "--cpus-per-task=1",
                              f"--output={tmp_path}/resumed-%j.out", "jobs/hybrid.slurm"],
                             capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    resumed_log = (tmp_path / f"resumed-{resumed.stdout.strip().split(';')[0]}.out").read_text()
    assert f"step {stopped_at}" in resumed_log and "Done:" in resumed_log, resumed_log
    reference = launched(tmp_path, 2, 1, ["--output", "reference.h5", str(source)])
    assert reference.returncode == 0, reference.stderr
    assert_bitwise_equal(run_dir / "result.h5", tmp_path / "reference.h5")


# MARK: Several nodes: a slurmd on each host of the test bed

@pytest.fixture(scope="module")
def slurm_nodes(testbed):
    started = subprocess.run([str(REPO / "Tests/TestBed/slurm-start"), "--testbed", str(testbed.directory)],
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    directory = started.stdout.strip().splitlines()[-1]
    env = environment_of(f"{directory}/env")
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, env=env).stdout
    assert nodes.split() == ["node1", "idle", "node2", "idle", "node3", "idle"], nodes
    yield env
    subprocess.run([str(REPO / "Tests/TestBed/slurm-stop"), directory], timeout=60)


def job_log(tmp_path, job_id):
    return (tmp_path / f"job-{job_id}.out").read_text()


def test_sbatch_hybrid_job_on_two_nodes(slurm_nodes, tmp_path):
    """--nodes=2: srun starts two tasks on each of two hosts, which exchange halos over TCP."""
    source = tmp_path / "small.json"
    source.write_text(json.dumps(heat_input(time={"steps": 30}, output={"every": 10})))
    env = {**slurm_nodes, "INPUT": str(source), "RUN_DIR": str(tmp_path / "run")}
    job = subprocess.run(["sbatch", "--wait", "--parsable", "--nodes=2", "--ntasks-per-node=2", "--cpus-per-task=1",
                          f"--output={tmp_path}/job-%j.out", "jobs/hybrid.slurm"],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert job.returncode == 0, job.stderr
    job_id = job.stdout.strip().split(";")[0]
    log = job_log(tmp_path, job_id)
    assert f"miniapp job {job_id}: 4 ranks x 1 threads on node[1-2]" in log and "Done:" in log, log
    with h5py.File(tmp_path / "run/result.h5") as f:
        hosts = [h.decode() for h in f["decomposition/hostnames"][:]]
        assert sorted(hosts) == ["node1", "node1", "node2", "node2"], hosts
        assert f.attrs["ranks"] == 4 and list(f["fields/step"][:]) == [0, 10, 20, 30]
        u = f["fields/u"][-1]
    reference = launched(tmp_path, 1, 1, ["--quiet", "--output", tmp_path / "one.h5", source], timeout=60)
    assert reference.returncode == 0, reference.stderr
    with h5py.File(tmp_path / "one.h5") as f:
        assert f["fields/u"][-1].tobytes() == u.tobytes()


def test_scaling_study_over_one_and_two_nodes(slurm_nodes, quick_bench, network_bench, tmp_path):
    """jobs/submit-scaling --nodes: each run of the job array spread over its
    node count by srun; the report counts the hosts and sets the model, with
    the network measured between two hosts, beside every run."""
    source = tmp_path / "small.json"
    source.write_text(json.dumps(heat_input(grid={"nx": 256, "ny": 256}, output={"every": 0, "diagnostics_every": 0})))
    study = tmp_path / "study"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--nodes", "1,2", "--ranks", "2",
                             "--threads", "1", "--input", str(source), "--steps", "100", "--study-dir", str(study),
                             "--wait", "--time", "00:05:00", "--model", str(quick_bench),
                             "--network-bench", str(network_bench[1])],
                            capture_output=True, text=True, cwd=REPO, env=slurm_nodes, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = list(csv.DictReader((study / "report/scaling.csv").open()))
    assert sorted(int(r["hosts"]) for r in rows) == [1, 2]
    assert all(float(r["model_over_measured"]) > 0 for r in rows), rows   # the model describes every run
    for nodes in (1, 2):
        with h5py.File(study / "results" / f"n{nodes}-r2-t1.h5") as f:
            assert len({h for h in f["decomposition/hostnames"][:]}) == nodes


def test_a_node_cut_off_ends_the_job_and_the_requeued_job_continues_from_its_checkpoint(slurm_nodes, testbed, tmp_path):
    """A node's link cut mid-job: its neighbours' watchdogs end the step within
    seconds (srun has no keepalive of its own), Slurm declares the node down
    and requeues the job, which continues on the nodes left from the last
    checkpoint and ends with the same bits as a run that never failed."""
    # ~150 us a step across two hosts: a checkpoint about every 0.75 s, 6 s in all.
    document = heat_input(time={"steps": 40_000}, output={"every": 0, "diagnostics_every": 1000, "checkpoint_every": 5000})
    source = tmp_path / "long.json"
    source.write_text(json.dumps(document))
    env = {**slurm_nodes, "INPUT": str(source), "RUN_DIR": str(tmp_path / "run"),
           "ARGS": "--quiet --peer-timeout 3"}
    submitted = subprocess.run(["sbatch", "--parsable", "--nodes=2", "--ntasks-per-node=2", "--cpus-per-task=1",
                                f"--output={tmp_path}/job-%j.out", "jobs/hybrid.slurm"],
                               capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]

    def squeue(fmt):
        return subprocess.run(["squeue", "-h", "-j", job_id, "-o", fmt], capture_output=True, text=True,
                              env=slurm_nodes).stdout.strip()
    checkpoint = tmp_path / "run/result.chk.h5"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert time.monotonic() < deadline, job_log(tmp_path, job_id)
        time.sleep(0.2)
    nodes = squeue("%N")
    assert nodes == "node[1-2]", nodes
    time.sleep(0.2)   # between two checkpoints: the ranks exchange halos
    try:
        testbed.link("node2", "down")
        cut = time.monotonic()
        while squeue("%t") == "R":
            assert time.monotonic() - cut < 60, "the job still runs a minute after its node was cut off"
            time.sleep(0.2)
        ended = time.monotonic() - cut
        log = job_log(tmp_path, job_id)
        # The watchdog names what it waited on: a halo from a rank on node2 or, when the cut
        # fell in a checkpoint write (every ~0.75 s), the collective write a rank stopped answering.
        assert ("no message from rank" in log and "on node2" in log) or \
            ("writing a checkpoint (collective HDF5)" in log and "a rank stopped answering" in log), log
        assert ended < 30, (ended, log)
        # Slurm declared node2 down and requeued the job (after completing its
        # steps, CG): skip its two-minute requeue delay, as an operator would.
        # node2 stays dead meanwhile.
        while squeue("%t") == "CG":
            assert time.monotonic() - cut < 60, "the job is still completing a minute after its node was cut off"
            time.sleep(0.2)
        assert squeue("%t") == "PD", squeue("%t %r")
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True, env=slurm_nodes)
        deadline = time.monotonic() + 240
        while squeue("%t"):
            assert time.monotonic() < deadline, job_log(tmp_path, job_id)
            time.sleep(0.5)
    finally:
        testbed.link("node2", "up")
        subprocess.run(["scontrol", "update", "NodeName=node2", "State=RESUME"], env=slurm_nodes, capture_output=True)
    log = job_log(tmp_path, job_id)
    assert "requeued (restart 1): continuing from" in log and "on node[1,3]" in log, log
    with h5py.File(tmp_path / "run/result.h5") as f:
        hosts = sorted(set(h.decode() for h in f["decomposition/hostnames"][:]))
        assert hosts == ["node1", "node3"], hosts
        assert f.attrs["ending"] == "completed"
        restarted_at = int(f.attrs["restart_step"])
        u, total = f["fields/u"][-1], f["diagnostics/total"][:]
    assert restarted_at > 0
    reference = launched(tmp_path, 1, 1, ["--quiet", "--checkpoint-every", "0", "--output", tmp_path / "reference.h5",
                                          source], timeout=300)
    assert reference.returncode == 0, reference.stderr
    with h5py.File(tmp_path / "reference.h5") as f:
        assert f["fields/u"][-1].tobytes() == u.tobytes() and f["diagnostics/total"][:].tobytes() == total.tobytes()
