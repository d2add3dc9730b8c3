"""Beyond one host: the end-to-end checks of one host, run again with the ranks
spread over 2 and 3 hosts of the test bed (Tests/TestBed/cluster-start: network
namespaces on a bridge, TCP between ranks only), must give the same bits;
parallel HDF5 output and checkpoints from every host into one shared
directory, and a restart on another number of hosts."""

import json
import shutil

import pytest

from conftest import MPI_FAMILY, REPO, heat_input, local_study_on_hosts
from test_heat_verification import assert_bitwise_identical, assert_matches_exact
from test_performance import SCHEMES
from test_restart import assert_bitwise_equal
from test_tealeaf import PUBLISHED


def hosts_of(run):
    with run.h5() as f:
        return [h.decode() for h in f["decomposition/hostnames"][:]]


def assert_spread(run, hosts):
    """Ranks really ran on `hosts` different hosts, each on its own address."""
    assert run.returncode == 0, run.stdout + run.stderr
    names = hosts_of(run)
    assert len(set(names)) == hosts, names
    assert all(name.startswith("node") for name in names), names
    with run.h5() as f:
        # One machine underneath: the hosts share its cores (the report and the memory check know it).
        assert len(set(f["decomposition/machines"][:])) == 1


def test_exact_sine_is_bitwise_the_same_on_one_two_and_three_hosts(run_miniapp, run_on_hosts):
    """The 67 x 45 grid divides evenly for none of these process grids."""
    runs = [run_miniapp(heat_input(), np=4, threads=1, name="one_host")]
    for hosts, np_, threads in [(2, 2, 1), (2, 4, 1), (3, 3, 2), (3, 6, 1)]:
        run = run_on_hosts(heat_input(), hosts=hosts, np=np_, threads=threads, name=f"h{hosts}_{np_}x{threads}")
        assert_spread(run, hosts)
        assert_matches_exact(run)
        runs.append(run)
    assert_bitwise_identical(runs)


def test_uneven_process_grids_across_hosts(run_miniapp, run_on_hosts):
    """Blocks of different sizes (67 x 45 cut 3 x 1, 1 x 2, 2 x 2), each block's neighbours on other hosts."""
    runs = [run_miniapp(heat_input(), np=1, name="single")]
    for dims, hosts, np_ in [("3x1", 3, 3), ("1x2", 2, 2), ("2x2", 3, 4)]:
        run = run_on_hosts(heat_input(), hosts=hosts, np=np_, args=["--dims", dims], name=f"uneven_{dims}")
        assert_spread(run, hosts)
        with run.h5() as f:
            sizes = f["decomposition/sizes"][:]
            assert len({tuple(s) for s in sizes}) > 1, sizes   # uneven
        runs.append(run)
    assert_bitwise_identical(runs)


def test_periodic_axes_wrap_around_across_hosts(run_miniapp, run_on_hosts):
    """Both axes periodic: the wrap-around messages cross hosts too; total heat is conserved."""
    document = heat_input(boundary={"x": "periodic", "y": "periodic"},
                          initial={"type": "gaussian", "center": [0.7, 0.5], "width": 0.2, "amplitude": 2.0},
                          time={"steps": 150}, output={"every": 50, "diagnostics_every": 25})
    runs = [run_miniapp(document, np=1, name="periodic_one")]
    for hosts, np_, dims in [(2, 2, "2x1"), (3, 6, "3x2")]:
        run = run_on_hosts(document, hosts=hosts, np=np_, args=["--dims", dims], name=f"periodic_h{hosts}")
        assert_spread(run, hosts)
        runs.append(run)
    with runs[-1].h5() as f:
        total = f["diagnostics/total"][:]
        assert abs(total - total[0]).max() <= 1e-13 * abs(total[0])
    assert_bitwise_identical(runs)


def test_deep_halos_and_temporal_blocking_across_hosts(run_miniapp, run_on_hosts):
    """The communication-avoiding schemes exchange halos k deep with corners: over TCP too, the same bits."""
    base = heat_input(boundary={"x": "periodic", "value": 0.25}, time={"steps": 41},
                      initial={"type": "gaussian", "center": [0.6, 0.7], "width": 0.2},
                      output={"every": 20, "diagnostics_every": 7})
    reference = run_miniapp(base, np=1, name="plain")
    for k, scheme in enumerate([s for s in SCHEMES if s.get("halo_depth", 1) in (3, 4, 5)]):
        document = json.loads(json.dumps(base))
        document["scheme"] = scheme
        run = run_on_hosts(document, hosts=3, np=6, name=f"scheme{k}")
        assert_spread(run, 3)
        assert_bitwise_identical([reference, run])


def test_tealeaf_over_hosts_matches_the_published_sum_bit_for_bit(run_miniapp, run_on_hosts, tmp_path):
    """tea_bm_2 (CG, 250 x 250): the same bits, iteration counts and residuals on 1, 2 and 3 hosts."""
    results = []
    for where, np_ in [(1, 2), (2, 2), (3, 3), (3, 6)]:
        deck = tmp_path / f"bm2_{where}_{np_}.in"
        shutil.copy(REPO / "inputs/tea_bm_2.in", deck)
        runner = run_miniapp if where == 1 else run_on_hosts
        extra = {} if where == 1 else {"hosts": where}
        run = runner(deck, np=np_, args=["--output", str(deck.with_suffix(".h5"))], timeout=300, **extra)
        run.output = deck.with_suffix(".h5")
        if where > 1:
            assert_spread(run, where)
        with run.h5() as f:
            u_sum = f.attrs["field_summary_temperature"]
            assert abs(u_sum - PUBLISHED[2]) / PUBLISHED[2] < 1e-9, (where, np_, u_sum)
            results.append((f["fields/u"][:].tobytes(), f["diagnostics/iterations"][:].tobytes(),
                            f["diagnostics/residual"][:].tobytes(), f["summary/temperature"][:].tobytes()))
    assert all(r == results[0] for r in results[1:])


def test_every_host_writes_the_shared_results_file(run_on_hosts, tmp_path):
    """Collective parallel HDF5 from three hosts into one file in one shared
    directory, read back whole: every rank's block, its host, the XDMF sidecar."""
    document = heat_input(time={"steps": 40}, output={"every": 10})
    run = run_on_hosts(document, hosts=3, np=6, name="shared")
    assert_spread(run, 3)
    with run.h5() as f:
        assert f["fields/u"].shape == (5, 45, 67)
        assert f.attrs["collective_field_writes"] == 1
        offsets, sizes = f["decomposition/offsets"][:], f["decomposition/sizes"][:]
        assert sorted(hosts_of(run)) == ["node1", "node1", "node2", "node2", "node3", "node3"]
        assert int((sizes[:, 0] * sizes[:, 1]).sum()) == 67 * 45 and len({tuple(o) for o in offsets}) == 6
    assert_matches_exact(run)
    assert run.output.with_suffix(".xmf").exists()
    assert not list(tmp_path.glob("*.incomplete"))


def test_checkpoint_on_three_hosts_restarts_on_two(run_miniapp, run_on_hosts, tmp_path):
    """Checkpoints written by every host, the run continued on another number
    of hosts (and ranks and threads) to the same bits as one that never stopped."""
    document = heat_input(time={"steps": 120}, output={"path": "chain.h5", "every": 20, "checkpoint_every": 40})
    reference = run_miniapp(document, np=1, args=["--checkpoint-every", "0"], name="reference")
    assert reference.returncode == 0, reference.stderr
    first = run_on_hosts(document, hosts=3, np=3, args=["--steps", "80"], name="chain")
    assert_spread(first, 3)
    checkpoint = tmp_path / "chain.chk.h5"
    second = run_on_hosts(None, hosts=["node1", "node3"], np=4, threads=1,
                          args=["--restart", str(checkpoint), "--steps", "120"], name="chain_restart")
    assert second.returncode == 0, second.stdout + second.stderr
    second.output = tmp_path / "chain.h5"
    assert sorted(set(hosts_of(second))) == ["node1", "node3"]
    assert_bitwise_equal(second.output, reference.output)


def test_network_bench_between_two_hosts(network_bench):
    """`miniapp bench --network-only`: latency, bandwidth and overlap over TCP, between two hosts."""
    result, path = network_bench
    assert "7. Between two hosts (node1 and node2)" in result.stdout, result.stdout
    network = json.loads(path.read_text())["mpi_network"]
    assert network["hosts"] == ["node1", "node2"]
    assert len(network["halo_exchange"]) == 20 and all(r["microseconds"] > 0 for r in network["halo_exchange"])
    o = network["overlap"]
    for key in ("hidden_fraction", "time_saved_fraction", "unpolled_hidden_fraction", "unpolled_time_saved_fraction"):
        assert 0 <= o[key] <= 1, (key, o)
    assert o["blocking_ms"] > 0 and o["overlapped_ms"] > 0 and o["unpolled_ms"] > 0
    assert network["allreduce_us"]["one_double"] > 0
    # The reductions also with one rank on each host of the test bed, as the performance model reads them.
    everywhere = network["allreduce_hosts"]
    assert everywhere["ranks"] == everywhere["hosts"] == 3 and everywhere["allreduce_us"]["diagnostic"] > 0
    assert "one rank on each of 3 hosts" in result.stdout


def test_local_study_over_hosts_against_the_model(testbed, quick_bench, network_bench, tmp_path):
    """jobs/submit-scaling --local --hostfile: runs on 1, 2 and 3 hosts of the
    test bed, reported against the performance model with the network that
    the bench measured between two of them."""
    rows = local_study_on_hosts(testbed, tmp_path, grid=512, steps=200, nodes=[1, 2, 3], ranks=[2, 3],
                                model=quick_bench, network_json=network_bench[1],
                                extra=["--oversubscribe"])   # 3 ranks on one host of 2 slots
    assert sorted(rows) == [(2, 1), (2, 2), (3, 1), (3, 2), (3, 3)]
    # 3 ranks on one host of 2 cores: more cores than the bench's node, no model; every other run has one,
    # the hosts of one machine sharing its 2 cores (3 ranks on 3 hosts: each gets 2/3 of a core).
    assert rows[(3, 1)]["model_per_step"] == "nan"
    for key, row in rows.items():
        if key != (3, 1):
            assert float(row["model_over_measured"]) > 0, (key, row)


@pytest.mark.skipif(MPI_FAMILY != "openmpi", reason="Open MPI's mpirun and its keepalives")
def test_a_warning_when_mpirun_spans_hosts_without_keepalives(run_on_hosts):
    """Without keepalives mpirun would wait for a lost host for many minutes: said once, by rank 0."""
    warning = "with Open MPI's default keepalive"
    quiet = run_on_hosts(heat_input(time={"steps": 5}), hosts=2, np=2, name="keepalive")
    assert quiet.returncode == 0 and warning not in quiet.stderr, quiet.stderr
    loud = run_on_hosts(heat_input(time={"steps": 5}), hosts=2, np=2, name="default",
                        env={"OMPI_MCA_oob_tcp_keepalive_time": "300"})
    assert loud.returncode == 0 and loud.stderr.count(warning) == 1, loud.stderr
    assert "oob_tcp_keepalive_time 1" in loud.stderr
