"""A test bed whose links have a latency (Tests/TestBed/cluster-start --delay: this
kernel has no netem, so each host's link is a TUN device of a switch in user
space, Tests/TestBed/netdelay.c): the bench measures the latency it adds, the model
predicts a run that the latency dominates, runs over its hosts give the bits
of one host, a cut link cuts, and cluster-stop leaves nothing of it behind."""

import json
import os
import subprocess

import pytest

from conftest import REPO, heat_input, local_study_on_hosts, network_bench_on, runner_on_hosts, started_test_bed
from test_cluster import assert_spread
from test_heat_verification import assert_bitwise_identical, assert_matches_exact

DELAY_US = 200


@pytest.fixture(scope="module")
def delayed_bed():
    yield from started_test_bed(2, delay=f"{DELAY_US}us")


@pytest.fixture(scope="module")
def delayed_network_bench(delayed_bed, tmp_path_factory):
    return network_bench_on(delayed_bed, tmp_path_factory.mktemp("delayed-network"))


def test_the_bench_measures_the_latency_the_links_add(delayed_network_bench):
    """Small messages and reductions between the two hosts take the delay and
    what the kernel's TCP and the switch add to it (tens of microseconds here),
    not less, and not twice the delay: exchanges are timed in batches, so the
    rhythm in which every other exchange finds its message there averages out."""
    result, path = delayed_network_bench
    network = json.loads(path.read_text())["mpi_network"]
    small = {row["bytes"]: row["microseconds"] for row in network["halo_exchange"] if row["bytes"] <= 512}
    for size, microseconds in small.items():
        assert DELAY_US <= microseconds <= 1.5 * DELAY_US + 100, (size, microseconds, result.stdout)
    one = network["allreduce_us"]["one_double"]
    assert DELAY_US <= one <= 1.5 * DELAY_US + 100, (one, result.stdout)


def test_the_model_predicts_a_run_that_the_latency_dominates(delayed_bed, delayed_network_bench, quick_bench,
                                                             tmp_path):
    """256 x 256 on 2 ranks: ~20 us of stencil a step on one host; on two hosts
    one exchange a step over the delayed link, ten times that. The model, with
    the latency the bench measured, predicts the step within a third."""
    rows = {hosts: row for (_, hosts), row in local_study_on_hosts(
        delayed_bed, tmp_path, grid=256, steps=300, nodes=[1, 2], ranks=[2], model=quick_bench,
        network_json=delayed_network_bench[1]).items()}
    across = rows[2]
    assert float(across["stepping_per_step"]) > DELAY_US * 1e-6, across          # the link's latency, every step
    assert float(across["stepping_per_step"]) > 5 * float(rows[1]["stepping_per_step"]), rows
    assert 0.67 <= float(across["model_over_measured"]) <= 1.5, across


def test_runs_over_the_delayed_links_give_the_bits_of_one_host(delayed_bed, run_miniapp, tmp_path):
    run_on_delayed = runner_on_hosts(delayed_bed, tmp_path)
    runs = [run_miniapp(heat_input(), np=4, name="one_host")]
    for np_, threads in [(2, 1), (4, 1), (2, 2)]:
        run = run_on_delayed(heat_input(), np=np_, threads=threads, name=f"delayed_{np_}x{threads}")
        assert_spread(run, 2)
        assert_matches_exact(run)
        runs.append(run)
    assert_bitwise_identical(runs)


def reaches_this_machine(bed, host):
    """True when `host` can reach this machine's side of the switch (a refused
    connection to port 9 is an answer; a cut link gives none)."""
    address = (bed.directory / "hosts").read_text().split()[1].rsplit(".", 1)[0] + ".254"
    answer = subprocess.run([str(bed.directory / "rsh"), host,
                             f"timeout 2 bash -c 'exec 3<>/dev/tcp/{address}/9' 2>&1; true"],
                            capture_output=True, text=True, timeout=30)
    return "refused" in answer.stdout


def test_a_cut_link_cuts_and_joins_again(delayed_bed):
    assert reaches_this_machine(delayed_bed, "node2")
    delayed_bed.link("node2", "down")
    try:
        assert not reaches_this_machine(delayed_bed, "node2")
        assert reaches_this_machine(delayed_bed, "node1")
    finally:
        delayed_bed.link("node2", "up")
    assert reaches_this_machine(delayed_bed, "node2")


def test_stop_ends_the_switch_and_removes_its_devices(tmp_path):
    from testbed import TestBed
    bed, why = TestBed.start(hosts=2, delay="1ms")
    if bed is None:
        pytest.skip(why)
    pid = int((bed.directory / "netdelay.pid").read_text())
    namespaces = list(bed.namespaces.values())
    switch_device = namespaces[0].rsplit("h", 1)[0] + "br"
    assert os.path.exists(f"/proc/{pid}")
    assert subprocess.run(["ip", "link", "show", switch_device], capture_output=True).returncode == 0
    bed.stop()
    assert not os.path.exists(f"/proc/{pid}")
    assert subprocess.run(["ip", "link", "show", switch_device], capture_output=True).returncode != 0
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in namespaces), listed
    assert not bed.directory.exists()


def test_a_delay_it_cannot_read_is_refused():
    if os.geteuid() != 0:
        pytest.skip("Tests/TestBed/cluster-start needs root (CI runs as root)")
    for delay in ["fast", "20", "1.5ms", "20s"]:
        result = subprocess.run([str(REPO / "Tests/TestBed/cluster-start"), "--hosts", "2", "--delay", delay],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 64, (delay, result.stderr)
        assert "--delay" in result.stderr and "ns, us or ms" in result.stderr, result.stderr
