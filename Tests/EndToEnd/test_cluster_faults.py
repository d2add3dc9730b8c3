"""Faults that only networks have, on the test bed: a host cut off from the
network mid-run, or one whose ranks are killed, ends the whole job within
seconds with a message that names the host, leaves no process behind on any
host, and the last checkpoint continues the run on the hosts that are left
to the same bits as a run that never failed."""

import os
import signal
import time

import h5py
import pytest

from conftest import heat_input
from test_restart import assert_bitwise_equal

# Long enough to be cut in the middle (tens of seconds), checkpointed about every second.
LONG = heat_input(time={"steps": 2_000_000},
                  output={"path": "long.h5", "every": 0, "diagnostics_every": 1000, "checkpoint_every": 4000})


def start_long_run(testbed, tmp_path, run_on_hosts, hosts=3, np=3):
    """The long run started over the hosts; returns it once its first checkpoint is on disk."""
    source = tmp_path / "long.json"
    source.write_text(__import__("json").dumps({**LONG, "output": {**LONG["output"], "path": str(tmp_path / "long.h5")}}))
    job = testbed.popen(["--quiet", source], hosts, np, tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "long.chk.h5").exists():
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 60 s"
        time.sleep(0.1)
    time.sleep(1.0)
    assert job.poll() is None, job.communicate()
    return job, source


def wait_for_end(job, seconds=60):
    started = time.monotonic()
    try:
        _, stderr = job.communicate(timeout=seconds)
    except Exception:
        job.kill()
        raise AssertionError("the job did not end: " + job.communicate()[1])
    return stderr, time.monotonic() - started


def continue_on(run_miniapp, run_on_hosts, tmp_path, hosts):
    """Restarts the last checkpoint on `hosts` for 300 more steps; checks it
    against a run that never stopped."""
    with h5py.File(tmp_path / "long.chk.h5") as f:
        step = int(f.attrs["step"])
    end = step + 300
    restarted = run_on_hosts(None, hosts=hosts, np=4, args=["--restart", str(tmp_path / "long.chk.h5"), "--steps", str(end)],
                             name="continued")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    with h5py.File(tmp_path / "long.h5") as f:
        assert sorted(set(h.decode() for h in f["decomposition/hostnames"][:])) == sorted(hosts)
        assert f.attrs["restart_step"] == step
    reference = run_miniapp({**LONG, "output": {**LONG["output"], "path": "reference.h5"}}, np=1,
                            args=["--steps", str(end), "--checkpoint-every", "0"], name="reference", timeout=300)
    assert reference.returncode == 0, reference.stderr
    assert_bitwise_equal(tmp_path / "long.h5", reference.output)


@pytest.fixture
def heal(testbed):
    """Joins every host to the network again after the test."""
    yield
    for host in testbed.hosts:
        testbed.link(host, "up")


def test_a_host_cut_off_mid_run_ends_the_job_and_its_checkpoint_restarts_on_the_others(
        testbed, run_miniapp, run_on_hosts, tmp_path, heal):
    job, _ = start_long_run(testbed, tmp_path, run_on_hosts)
    testbed.link("node2", "down")
    stderr, seconds = wait_for_end(job)
    # mpirun's keepalives on its connections to the hosts (the test bed's env)
    # notice the silent host: about 5 s (keepalive 1 s, then 3 probes 1 s apart).
    assert job.returncode != 0, stderr
    assert seconds < 20, (seconds, stderr)
    assert "node2" in stderr and ("lost communication" in stderr or "no message from" in stderr), stderr
    assert testbed.wait_until_empty(), {host: testbed.pids(host) for host in testbed.hosts}
    testbed.link("node2", "up")
    continue_on(run_miniapp, run_on_hosts, tmp_path, ["node1", "node3"])


def test_a_host_whose_ranks_are_killed_ends_the_job_within_seconds(testbed, run_on_hosts, tmp_path):
    job, _ = start_long_run(testbed, tmp_path, run_on_hosts)
    victims = testbed.pids("node3", name="miniapp")
    assert victims, "no rank on node3"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    stderr, seconds = wait_for_end(job)
    assert job.returncode != 0 and seconds < 10, (seconds, stderr)
    assert "node3" in stderr and "signal 9" in stderr, stderr
    assert testbed.wait_until_empty(), {host: testbed.pids(host) for host in testbed.hosts}
