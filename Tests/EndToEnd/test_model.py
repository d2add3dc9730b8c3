"""The performance model (tools/miniapp_report/model.py): its arithmetic
against step times computed by hand from round machine figures, and its use
on real bench figures and real runs (`miniapp-report model`, `scaling
--model`)."""

import csv
import dataclasses
import json
import subprocess
import sys

import pytest

from conftest import REPO, heat_input

sys.path.insert(0, str(REPO / "tools"))
from miniapp_report import model  # noqa: E402
from miniapp_report.results import ReportError  # noqa: E402

REPORT = REPO / "tools" / "miniapp-report"
US = 1e-6


def bench_document():
    """The JSON `miniapp bench` writes, with round figures: 4 cores; one core
    1000 MLUP/s in cache, 1000 from memory with streaming stores (800
    ordinary, 500 without prefetch); the node 4000 in cache, 2000 from memory
    (1600, 1000); messages 1 us + bytes / 10 GB/s; fork-join 0.5 us with 2
    threads, 1 us with 4; clock read 25 ns."""
    kernel = []
    for grid, scheme, one, full in [(1024, "plain", 1000, 4000), (4096, "plain", 800, 1600),
                                    (4096, "plain, streaming", 1000, 2000), (4096, "plain, no prefetch", 500, 1000)]:
        kernel += [{"grid": grid, "scheme": scheme, "ranks": 1, "threads": 1, "mlups": one},
                   {"grid": grid, "scheme": scheme, "ranks": 1, "threads": 4, "mlups": full},
                   {"grid": grid, "scheme": scheme, "ranks": 4, "threads": 1, "mlups": full}]
    kernel.append({"grid": 4096, "scheme": "16 steps per pass", "ranks": 1, "threads": 1, "mlups": 9999})
    exchange = [{"bytes": 8 << i, "microseconds": 1.0 + ((8 << i) / 1e4 if i > 5 else 0.0)} for i in range(20)]
    return {"machine": {"cores": 4, "last_level_cache_bytes": 32 << 20},
            "heat_kernel": kernel, "threads": {"fork_join_us_2_threads": 0.5, "fork_join_us_4_threads": 1.0,
                                               "clock_read_ns": 25.0},
            "mpi": {"halo_exchange": exchange}}


@pytest.fixture
def machine(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench_document()))
    return model.Machine.from_bench(path, network_latency=2 * US, network_bandwidth=5e9)


def test_figures_read_from_the_bench(machine):
    assert machine.in_cache == (1000e6, 4000e6)
    assert machine.from_memory == {(True, True): (1000e6, 2000e6), (False, True): (800e6, 1600e6),
                                   (False, False): (500e6, 1000e6)}
    assert machine.latency == pytest.approx(1 * US) and machine.bandwidth == pytest.approx(10e9)
    assert machine.fork_join == {2: 0.5 * US, 4: 1 * US}
    # Linear in the cores until the node's rate.
    assert machine.rate_per_core(1, False, True, True) == 1000e6
    assert machine.rate_per_core(4, False, True, True) == 500e6
    assert machine.rate_per_core(3, True, False, False) == 1000e6


def test_one_core_from_memory(machine):
    p = model.predict(machine, model.Layout.planned(4096, 4096, 1, 1, 1))
    assert not p.in_cache and p.rate_per_core == 1000e6      # `auto`: streaming stores, the faster
    assert p.exchange == p.exposed == 0
    assert p.step == pytest.approx(4096 ** 2 / 1e9 + 10 * 25e-9, rel=1e-12)


def test_four_ranks_of_one_node_share_its_bandwidth(machine):
    p = model.predict(machine, model.Layout.planned(4096, 4096, 4, 1, 4))
    # 2 x 2 ranks of 2048^2 at 2000/4 MLUP/s each; two neighbours on the node: copies by the CPU, not hidden.
    assert p.block == (2048, 2048) and p.rate_per_core == 500e6
    messages = 2 * (1 * US + 8 * 2048 / 10e9)
    assert p.exposed == pytest.approx(messages, rel=1e-12)
    assert p.step == pytest.approx(2048 ** 2 / 500e6 + messages + 10 * 25e-9, rel=1e-12)
    one = model.predict(machine, model.Layout.planned(4096, 4096, 1, 1, 1))
    plan = model.study(machine, 4096, 4096, [1, 4], [1], ranks_per_node=4)
    assert plan[1]["efficiency"] == pytest.approx(one.step / (4 * p.step), rel=1e-12)


def test_two_nodes_of_two_ranks_with_two_threads(machine):
    layout = model.Layout.planned(512, 512, 4, 2, 2)
    assert layout.dims == (2, 2) and layout.hosts == [0, 0, 1, 1]
    p = model.predict(machine, layout)
    # Rank 0 at (0, 0): east neighbour (rank 2) on the other node, north (rank 1) on its own; 256^2 points in
    # cache at 4000/4 MLUP/s per core. Thread 0 owns rows 0-127 (128 x 255 inner points), thread 1 rows
    # 128-255 (127 x 255 inner, the rest strips: 383 points).
    assert p.in_cache and p.rate_per_core == 1000e6
    interior, strips = 128 * 255 / 1e9, 383 / 1e9
    shared, network = 1 * US + 2048 / 10e9, 2 * US + 2048 / 5e9
    assert network < interior                                   # hidden by the interior
    assert p.exposed == pytest.approx(shared, rel=1e-12)
    assert p.exchange == pytest.approx(shared + network, rel=1e-12)
    assert p.step == pytest.approx(interior + strips + shared + 2 * 0.5 * US + 10 * 25e-9, rel=1e-12)


def test_network_exchange_longer_than_the_interior_is_exposed(machine):
    layout = model.Layout.planned(64, 64, 4, 1, 1)             # one rank per node, 32^2 blocks
    p = model.predict(dataclasses.replace(machine, network_latency=50 * US), layout)
    interior = 31 * 31 / 1000e6
    network = 2 * (50 * US + 8 * 32 / 5e9)
    assert p.exposed == pytest.approx(network - interior, rel=1e-12)


def test_deep_halo_one_exchange_then_sweeps_into_the_halo(machine):
    p = model.predict(machine, model.Layout.planned(4096, 4096, 2, 1, 2), halo_depth=2)
    # 1 x 2 ranks of 4096 x 2048: one exchange of 2 rows (not overlapped) every 2 steps, then a sweep one
    # row into the halo and one without.
    assert p.block == (4096, 2048) and p.rate_per_core == 1000e6
    exchange = 1 * US + 8 * 2 * 4096 / 10e9
    compute = (4096 * 2049 + 4096 * 2048) / 1e9 / 2
    assert p.exposed == pytest.approx(exchange / 2, rel=1e-12)
    assert p.step == pytest.approx(compute + exchange / 2 + 10 * 25e-9, rel=1e-12)


def test_hosts_of_one_machine_share_its_cores_and_time_slice_beyond_them(machine):
    """The test bed's hosts are network namespaces of one machine: messages
    between them cross the network, but they compete for one node's cores."""
    three = model.predict(machine, model.Layout.planned(512, 512, 3, 1, 1, one_machine=True))
    assert three.in_cache and three.rate_per_core == 1000e6          # 3 of the 4 cores
    # 6 ranks of one thread on 4 cores: each gets 4/6 of a core's time (the node's 4000 MLUP/s shared out).
    six = model.predict(machine, model.Layout.planned(512, 512, 6, 1, 1, one_machine=True))
    assert six.rate_per_core == pytest.approx(4000e6 / 6, rel=1e-12)
    # The same 6 ranks on 6 hosts of their own machines: no sharing; on one real node: refused, as before.
    assert model.predict(machine, model.Layout.planned(512, 512, 6, 1, 1)).rate_per_core == 1000e6
    with pytest.raises(ReportError, match="bench ran on 4"):
        model.predict(machine, model.Layout.planned(512, 512, 6, 1, 6))


def test_a_measured_network_and_what_its_messages_cost_the_cpu(machine, tmp_path):
    """Section 7 of the bench: the network's latency and bandwidth, and what
    its messages cost the core, which overlap does not hide: the share of a
    large exchange that overlap did not save, and the time a small exchange
    adds to a long interior (TCP's system calls and copies are CPU work)."""
    document = bench_document()
    document["mpi_network"] = {"halo_exchange": [{"bytes": 8 << i, "microseconds": 10.0 + ((8 << i) / 1e3 if i > 5 else 0)}
                                                 for i in range(20)],
                               "overlap": {"time_saved_fraction": 0.25},
                               "overlap_small": {"compute_ms": 0.5, "overlapped_ms": 0.52}}
    (tmp_path / "net.json").write_text(json.dumps({"mpi_network": document["mpi_network"]}))
    (tmp_path / "both.json").write_text(json.dumps(document))
    (tmp_path / "node.json").write_text(json.dumps(bench_document()))
    for measured in (model.Machine.from_bench(tmp_path / "both.json"),
                     model.Machine.from_bench(tmp_path / "node.json", network_bench=tmp_path / "net.json")):
        assert measured.network_latency == pytest.approx(10 * US) and measured.network_bandwidth == pytest.approx(1e9)
        assert measured.network_unhidden == pytest.approx(0.75) and measured.network_overhead == pytest.approx(20 * US)
    # Given figures win over measured ones; without a measurement, overlap hides everything it can.
    given = model.Machine.from_bench(tmp_path / "both.json", network_latency=2 * US)
    assert given.network_latency == 2 * US and given.network_bandwidth == pytest.approx(1e9)
    assert machine.network_unhidden == 0 and machine.network_overhead == 0
    # Two hosts of one rank, 512 x 256 blocks: the network message (10 us + 4 KiB / 1 GB/s) is far shorter than
    # the interior, yet its CPU cost stays on the critical path: 20 us, and 3/4 of 4 KiB at 1 GB/s.
    measured = model.Machine.from_bench(tmp_path / "both.json")
    p = model.predict(measured, model.Layout.planned(512, 512, 2, 1, 1))
    network = 10 * US + 8 * 512 / 1e9
    assert p.exchange == pytest.approx(network, rel=1e-12)
    assert p.exposed == pytest.approx(20 * US + 0.75 * 8 * 512 / 1e9, rel=1e-12)
    # 32 x 32 blocks on 4 hosts: two network neighbours each, and an interior (0.96 us) shorter than the messages.
    p = model.predict(measured, model.Layout.planned(64, 64, 4, 1, 1))
    assert p.exposed == pytest.approx(max(2 * (20 * US + 0.75 * 256 / 1e9), 2 * (10 * US + 256 / 1e9) - 31 * 31 / 1e9))
    with pytest.raises(ReportError, match="no measurement between hosts"):
        model.Machine.from_bench(tmp_path / "node.json", network_bench=tmp_path / "node.json")


def test_exact_reductions_at_the_measured_cost(machine, tmp_path):
    """Bench sections 5 and 7: a diagnostic's exact reduction by ranks on a
    node and by hosts; a layout takes the nearest count measured at or above
    its own, and across hosts the hosts' figure plus that of a host's ranks."""
    def figures(us):
        return {"one_double": us / 2, "one_exact_sum": us / 1.5, "one_wide_exact_sum": us, "diagnostic": us,
                "int64_sum_71": us}
    document = bench_document()
    document["allreduce"] = [{"ranks": 2, "hosts": 1, "allreduce_us": figures(1.0)},
                             {"ranks": 4, "hosts": 1, "allreduce_us": figures(3.0)}]
    document["mpi_network"] = {"halo_exchange": [{"bytes": 8 << i, "microseconds": 10.0 + (8 << i) / 1e3}
                                                 for i in range(20)],
                               "allreduce_us": figures(20.0),
                               "allreduce_hosts": {"ranks": 3, "hosts": 3, "allreduce_us": figures(50.0)}}
    (tmp_path / "bench.json").write_text(json.dumps(document))
    measured = model.Machine.from_bench(tmp_path / "bench.json")
    assert measured.reduction_seconds(1) == 0
    assert measured.reduction_seconds(2) == pytest.approx(1 * US)
    assert measured.reduction_seconds(3) == pytest.approx(3 * US)
    assert measured.reduction_seconds(16) == pytest.approx(3 * US)   # the most ranks measured
    assert measured.reduction_seconds(2, hosts=2) == pytest.approx(20 * US)
    assert measured.reduction_seconds(8, hosts=2) == pytest.approx(23 * US)
    assert measured.reduction_seconds(6, hosts=3) == pytest.approx(51 * US)
    assert model.predict(measured, model.Layout.planned(512, 512, 4, 1, 4)).reduction == pytest.approx(3 * US)
    # A bench without these figures: no prediction of the reductions.
    assert machine.reduction_seconds(4) is None
    assert model.predict(machine, model.Layout.planned(512, 512, 4, 1, 4)).reduction is None


def test_refusals(machine, tmp_path):
    with pytest.raises(ReportError, match="bench ran on 4"):
        model.predict(machine, model.Layout.planned(4096, 4096, 8, 1, 8))
    without_network = dataclasses.replace(machine, network_latency=None, network_bandwidth=None)
    with pytest.raises(ReportError, match="--network-latency"):
        model.predict(without_network, model.Layout.planned(4096, 4096, 2, 1, 1))
    (tmp_path / "other.json").write_text('{"machine": {}}')
    result = subprocess.run([str(REPORT), "model", str(tmp_path / "other.json"), "--grid", "64", "64", "--ranks", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "not the JSON of `miniapp bench`" in result.stderr


def test_report_refuses_the_model_for_other_problems_and_notes_runs_it_cannot_describe(run_miniapp, tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(bench_document()))
    tea = run_miniapp(json.loads((REPO / "inputs/tea_bm_1.json").read_text()), name="tea")
    assert tea.returncode == 0, tea.stderr
    result = subprocess.run([str(REPORT), "scaling", str(tea.output), "--model", str(bench), "--out", str(tmp_path / "a")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "covers the heat problem, not 'tealeaf'" in result.stderr
    # Two ranks x 3 threads: 6 cores on one host, more than the bench's 4: that row has no model, the others do.
    small = heat_input(time={"steps": 5}, output={"every": 0, "diagnostics_every": 0})
    one = run_miniapp(small, name="one")
    six = run_miniapp(small, np=2, threads=3, name="six")
    assert one.returncode == 0 and six.returncode == 0, one.stderr + six.stderr
    result = subprocess.run([str(REPORT), "scaling", str(one.output), str(six.output), "--model", str(bench),
                             "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"no model for {six.output}" in result.stderr and "bench ran on 4" in result.stderr
    for table in ("scaling.txt", "scaling.md"):   # the report itself says why a row's model is nan
        assert "no model for 2x3: 6 cores busy on a node, but the bench ran on 4" in (tmp_path / "b" / table).read_text()
    rows = list(csv.DictReader((tmp_path / "b/scaling.csv").open()))
    assert rows[0]["model_per_step"] != "nan" and rows[1]["model_per_step"] == "nan"
    # Temporal blocking (forced here; the automatic scheme picks it on large fields) is not modelled: the
    # report says how to run a study the model describes.
    blocked = run_miniapp(heat_input(time={"steps": 8}, output={"every": 0, "diagnostics_every": 0},
                                     scheme={"halo_depth": 4, "temporal_blocking": True}), name="blocked")
    assert blocked.returncode == 0, blocked.stderr
    result = subprocess.run([str(REPORT), "scaling", str(blocked.output), "--model", str(bench),
                             "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert result.returncode == 2 and '"scheme": {"halo_depth": 1}' in result.stderr, result.stderr


def test_model_command_prints_the_plan(tmp_path):
    (tmp_path / "bench.json").write_text(json.dumps(bench_document()))
    result = subprocess.run([str(REPORT), "model", str(tmp_path / "bench.json"), "--grid", "8192", "8192",
                             "--ranks", "1,4,16", "--threads", "1,4", "--ranks-per-node", "1",
                             "--network-latency", "1.5", "--network-bandwidth", "10"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("strong scaling predicted") and len(lines) == 2 + 6
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], r[1]) for r in rows] == [("1", "1"), ("1", "4"), ("4", "1"), ("4", "4"), ("16", "1"), ("16", "4")]
    assert rows[0][-1] == "1.000" and all(0 < float(r[-1]) for r in rows)


def test_scaling_report_with_the_model_on_real_runs(quick_bench, tmp_path):
    """A local strong-scaling study, reported against the model filled from
    this machine's own bench figures."""
    source = tmp_path / "input.json"
    source.write_text(json.dumps(heat_input(grid={"nx": 512, "ny": 512}, time={"steps": 200},
                                            output={"every": 0, "diagnostics_every": 0})))
    directory = tmp_path / "study"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--local", "--ranks", "1,2", "--threads", "1",
                             "--input", str(source), "--study-dir", str(directory), "--model", str(quick_bench)],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model/measured" in result.stdout
    rows = list(csv.DictReader((directory / "report/scaling.csv").open()))
    assert [(r["ranks"], r["threads"]) for r in rows] == [("1", "1"), ("2", "1")]
    machine = model.Machine.from_bench(quick_bench)
    one_core = machine.in_cache[0]
    first = rows[0]
    # One rank, no neighbours: the model's step is the grid at the bench's one-core in-cache rate, plus timers.
    assert float(first["model_per_step"]) == pytest.approx(512 * 512 / one_core + 10 * machine.clock_read, rel=1e-9)
    assert float(first["model_efficiency"]) == 1.0
    for r in rows:
        assert float(r["stepping_per_step"]) > 0
        assert float(r["model_over_measured"]) == pytest.approx(
            float(r["model_per_step"]) / float(r["stepping_per_step"]), rel=1e-3)
    assert 0 < float(rows[1]["model_efficiency"]) < 1.5


@pytest.mark.parametrize("np_, grid", [(6, (67, 45)), (4, (30, 90)), (5, (64, 64))])
def test_the_model_plans_the_decomposition_that_runs_choose(run_miniapp, np_, grid):
    """The model's layout is miniapp's own plan (`miniapp plan`): the process
    grid and every rank's block that a run chose, as its results file records them."""
    run = run_miniapp(heat_input(grid={"nx": grid[0], "ny": grid[1]}, time={"steps": 2}), np=np_)
    assert run.returncode == 0, run.stderr
    layout = model.Layout.planned(grid[0], grid[1], np_, 1, np_)
    with run.h5() as f:
        assert tuple(f.attrs["dims"]) == layout.dims
        ran = {(tuple(c), tuple(s)) for c, s in zip(f["decomposition/coords"][:], f["decomposition/sizes"][:])}
    assert ran == {(c, layout.block(c)) for c in layout.coords}
