"""The faster schemes change the speed, never the bits; the profile and JSON
outputs; and the benchmark command runs and reports every figure (its
numbers are for people to read, not thresholds for tests)."""

import json
import shutil
import subprocess

import h5py
import pytest

from conftest import MINIAPP, REPO, heat_input

SCHEMES = [
    {},
    {"halo_depth": 3},
    {"halo_depth": 4, "temporal_blocking": True},
    {"halo_depth": 2, "temporal_blocking": True, "streaming_stores": "on"},
    {"streaming_stores": "on"},
    {"software_prefetch": "on"},
    {"halo_depth": 3, "temporal_blocking": True, "streaming_stores": "on", "software_prefetch": "on"},
    {"halo_depth": 6, "temporal_blocking": True, "software_prefetch": "on"},
    # Column tiles of 16 (67 columns: tiles of 16, the last of 3), narrower than 21 steps' reach.
    {"halo_depth": 5, "temporal_blocking": True, "tile_columns": 16, "streaming_stores": "on", "software_prefetch": "on"},
    {"halo_depth": 21, "temporal_blocking": True, "tile_columns": 16},
    # One row at a time instead of bands of four (67 rows: bands of 4, then 3).
    {"halo_depth": 3, "row_bands": "off", "streaming_stores": "on"},
]


@pytest.mark.parametrize("boundary", ["dirichlet", "periodic"])
def test_schemes_give_the_same_bits_on_every_decomposition(run_miniapp, boundary):
    """Deep halos (communication avoiding), temporal blocking, streaming
    stores and software prefetch against the plain scheme, with diagnostics every 7 steps and
    snapshots every 20 (blocks are cut short to land on them)."""
    base = heat_input(boundary={"x": boundary, "value": 0.25}, time={"steps": 61},
                      initial={"type": "gaussian", "center": [0.6, 0.7], "width": 0.2},
                      output={"every": 20, "diagnostics_every": 7})
    reference = None
    for k, scheme in enumerate(SCHEMES):
        for np_, threads in [(1, 1), (4, 2), (6, 1)]:
            document = json.loads(json.dumps(base))
            document["scheme"] = scheme
            run = run_miniapp(document, np=np_, threads=threads, name=f"scheme{k}_{np_}x{threads}")
            assert run.returncode == 0, run.stderr
            with run.h5() as f:
                result = (f["fields/u"][:].tobytes(), f["diagnostics/total"][:].tobytes(),
                          list(f["fields/step"][:]), list(f["diagnostics/step"][:]))
                assert f.attrs["halo_depth"] == scheme.get("halo_depth", 1)
                assert f.attrs["temporal_blocking"] == int(scheme.get("temporal_blocking", False))
                assert f.attrs["software_prefetch"] == int(scheme.get("software_prefetch") == "on")
                assert f.attrs["row_bands"] == int(scheme.get("row_bands") != "off")
                if np_ == 1:   # tiles where asked for (grids this small never try them on "auto")
                    assert f.attrs["tile_columns"] == scheme.get("tile_columns", 0)
            if reference is None:
                reference = result
                assert reference[2] == [0, 20, 40, 60, 61] and reference[3][:3] == [0, 7, 14]
            assert result == reference, (scheme, np_, threads)


def last_level_cache_bytes():
    best = 0
    for index in range(8):
        try:
            text = open(f"/sys/devices/system/cpu/cpu0/cache/index{index}/size").read().strip()
        except OSError:
            continue
        best = max(best, int("".join(c for c in text if c.isdigit())) * {"K": 1024, "M": 1 << 20}.get(text[-1], 1))
    return best


def test_automatic_stores_and_bands_are_timed_on_large_fields_and_change_no_bits(run_miniapp):
    """streaming_stores and row_bands "auto" on fields larger than half the
    last-level cache time each way still open at start-up and keep the
    fastest; the results are those of "on" and "off", bit for bit. The grid
    is the smallest whose two fields take more than 0.65 of the cache (so
    that they are timed; 1448^2 at least, 8192^2 at most)."""
    cache = last_level_cache_bytes()
    n = 1448   # 2 fields of 1450^2 doubles: 32 MiB
    while 2 * (n + 2) ** 2 * 8 <= 0.65 * cache and n < 8192:
        n += 64
    results = {}
    for stores, bands in [("auto", "auto"), ("on", "auto"), ("off", "auto"), ("on", "off"), ("off", "on"), ("auto", "off")]:
        document = heat_input(grid={"nx": n, "ny": n}, time={"steps": 6}, output={"every": 0, "diagnostics_every": 3},
                              scheme={"streaming_stores": stores, "row_bands": bands})
        run = run_miniapp(document, np=2, name=f"stores_{stores}_{bands}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            results[stores, bands] = (f["fields/u"][:].tobytes(), f["diagnostics/total"][:].tobytes())
            assert f.attrs["streaming_stores"] == {"on": 1, "off": 0}.get(stores, f.attrs["streaming_stores"])
            assert f.attrs["row_bands"] == {"on": 1, "off": 0}.get(bands, f.attrs["row_bands"])
            prefetch = f.attrs["software_prefetch"]
        large = 0 < cache < 2 * 2 * (n + 2) ** 2 * 8
        ways = [f"{s}, {b} " for s in ["streaming", "ordinary"] if stores == "auto" or s == {"on": "streaming"}.get(stores, "ordinary")
                for b in ["bands", "rows"] if bands == "auto" or b == {"on": "bands"}.get(bands, "rows")]
        timed = large and (stores == "auto" or bands == "auto")
        assert ("timed per sweep: " in run.stdout) == timed, (cache, run.stdout)
        assert not timed or all(way in run.stdout for way in ways), run.stdout
        assert ("rows in bands of four" in run.stdout) != ("one row at a time" in run.stdout)
        # Software prefetch ("auto") from the same size on.
        assert prefetch == large, (cache, prefetch)
    assert len(set(results.values())) == 1


def test_automatic_scheme_times_temporal_blocking_on_large_fields_and_changes_no_bits(run_miniapp):
    """Without halo_depth and temporal_blocking the run chooses: on fields
    beyond half the last-level cache, with 8 or more steps between outputs,
    it times temporal blocking 8 steps deep against the single sweep at
    start-up and keeps the faster on every rank. The set-up line and the
    results file say what was chosen, the input records "auto", and the bits
    are those of the single sweep. Small grids, or diagnostics every step,
    keep the single sweep untimed; explicit keys force a scheme."""
    cache = last_level_cache_bytes()
    n = 1024
    while 2 * (n + 16) ** 2 * 8 <= 0.65 * cache and n < 8192:
        n += 64
    base = dict(grid={"nx": n, "ny": n}, time={"steps": 24}, output={"every": 24, "diagnostics_every": 12})
    results = {}
    for name, scheme in [("auto", None), ("auto_strings", {"halo_depth": "auto", "temporal_blocking": "auto"}),
                         ("single", {"halo_depth": 1}), ("blocked", {"halo_depth": 8, "temporal_blocking": True})]:
        document = heat_input(**base, **({"scheme": scheme} if scheme else {}))
        run = run_miniapp(document, np=1, threads=2, name=f"scheme_{name}")
        assert run.returncode == 0, run.stderr
        line = next(l for l in run.stdout.splitlines() if l.strip().startswith("scheme"))
        with run.h5() as f:
            results[name] = (f["fields/u"][:].tobytes(), f["diagnostics/total"][:].tobytes())
            depth, blocking = f.attrs["halo_depth"], f.attrs["temporal_blocking"]
            recorded = json.loads(f.attrs["input_json"])["scheme"]
            automatic = f.attrs["scheme_automatic"]
            timed = (f.attrs["scheme_timed_single_sweep_seconds"], f.attrs["scheme_timed_blocking_seconds"])
        if name.startswith("auto"):
            assert automatic == 1 and recorded["halo_depth"] == "auto" and recorded["temporal_blocking"] == "auto"
            assert line.split()[1] == "automatic:" and "timed per step: temporal blocking" in line, (cache, line)
            assert all(t > 0 for t in timed), timed
            # The faster one was kept.
            assert (depth, blocking) == ((8, 1) if timed[1] < timed[0] else (1, 0)), (timed, depth, blocking)
        else:
            assert automatic == 0 and "automatic" not in line and all(t != t for t in timed)
            assert (depth, blocking) == ((1, 0) if name == "single" else (8, 1))
    assert len(set(results.values())) == 1

    for name, grid, every in [("small", 256, 12), ("every_step", n, 1)]:
        document = heat_input(grid={"nx": grid, "ny": grid}, time={"steps": 4}, output={"every": 0, "diagnostics_every": every})
        run = run_miniapp(document, np=1, threads=2, name=f"scheme_untimed_{name}")
        assert run.returncode == 0, run.stderr
        assert "automatic: one halo exchange per step" in run.stdout and "temporal blocking not tried" in run.stdout
        with run.h5() as f:
            assert (f.attrs["halo_depth"], f.attrs["temporal_blocking"], f.attrs["scheme_automatic"]) == (1, 0, 1)


def level_two_cache_bytes():
    for index in range(8):
        try:
            base = f"/sys/devices/system/cpu/cpu0/cache/index{index}/"
            if open(base + "level").read().strip() == "2":
                text = open(base + "size").read().strip()
                return int("".join(c for c in text if c.isdigit())) * {"K": 1024, "M": 1 << 20}.get(text[-1], 1)
        except OSError:
            continue
    return 0


def wavefront_bytes(columns, steps):
    """WavefrontBuffers.bytes: 6 ring rows per level but the last, one boundary row, padded to cache lines."""
    offset = (steps + 1 + 7) // 8 * 8
    width = (columns + 2 * offset + 7) // 8 * 8
    return (6 * (steps - 1) + 1) * width * 8


def test_automatic_tiles_are_timed_when_rows_leave_l2_and_change_no_bits(run_miniapp):
    """tile_columns "auto", where one thread's wavefront rows take more than
    half the L2 cache, times tiles that fit there against whole rows at
    start-up and keeps the faster; the results are those of whole rows and
    of tiles asked for."""
    n, steps = 2048, 16   # whole rows: 1.5 MiB of ring rows
    results = {}
    for tiles in ["auto", "off", 256]:
        document = heat_input(grid={"nx": n, "ny": 40}, time={"steps": 2 * steps},
                              output={"every": 0, "diagnostics_every": steps},
                              scheme={"halo_depth": steps, "temporal_blocking": True, "tile_columns": tiles})
        run = run_miniapp(document, np=1, name=f"tiles_{tiles}")
        assert run.returncode == 0, run.stderr
        with run.h5() as f:
            results[tiles] = (f["fields/u"][:].tobytes(), f["diagnostics/total"][:].tobytes(), f.attrs["tile_columns"])
        if tiles == "auto":
            l2 = level_two_cache_bytes()
            timed = "per pass over slabs with tiles" in run.stdout
            assert timed == (0 < l2 < 2 * wavefront_bytes(n, steps)), (l2, run.stdout)
            chosen = results[tiles][2]
            assert chosen == 0 or (chosen % 8 == 0 and chosen < n and wavefront_bytes(chosen, steps) <= l2 // 2), chosen
            assert ("column tiles of" in run.stdout) == (chosen > 0)
    assert results["auto"][:2] == results["off"][:2] == results[256][:2]
    assert results["off"][2] == 0 and results[256][2] == 256


def test_halo_deeper_than_a_block_is_refused(run_miniapp, tmp_path):
    run = run_miniapp(heat_input(grid={"nx": 12, "ny": 12}, scheme={"halo_depth": 7}), np=4, timeout=40)
    assert run.returncode == 65
    assert run.errors() and "scheme.halo_depth 7" in run.errors()[0] and "6 x 6" in run.errors()[0]


def test_unknown_scheme_key(run_miniapp):
    run = run_miniapp(heat_input(scheme={"temporal_blocks": True}), np=1, timeout=40)
    assert run.returncode == 65 and "did you mean 'scheme.temporal_blocking'" in run.stderr


def test_profile_repeats_and_json_summary(run_miniapp, tmp_path):
    summary = tmp_path / "summary.json"
    run = run_miniapp(heat_input(output={"fields": False}), np=2, args=["--profile", "3", "--json", str(summary)])
    assert run.returncode == 0, run.stderr
    assert "profile: warm-up run (not counted)" in run.stdout and "median" in run.stdout
    data = json.loads(summary.read_text())
    assert data["ranks"] == 2 and data["metrics"]["profile_runs"] == 3
    assert data["metrics"]["mlups_stepping"] >= data["metrics"]["mlups"] > 0
    for phase in ["halo_post", "interior", "halo_wait", "boundary", "reduction", "io", "total"]:
        p = data["phases"][phase]
        assert p["min"] <= p["avg"] <= p["max"]
    with h5py.File(run.output) as f:
        assert "u" not in f["fields"]   # output.fields false: no snapshots


def test_bench_reports_every_figure(quick_bench_run):
    result = quick_bench_run.result
    assert result.returncode == 0, result.stdout + result.stderr
    for heading in ["1. Memory bandwidth", "2. Heat kernel", "3. Thread pool", "4. Halo exchange", "5. MPI_Allreduce",
                    "6. Writing", "8. Exact sums"]:
        assert heading in result.stdout
    data = json.loads(quick_bench_run.json.read_text())
    assert {(s["kernel"], s["streaming"], s["prefetch"]) for s in data["stream"]} == \
        {(k, t, p) for k in ("copy", "triad") for t in (False, True) for p in (False, True)}
    assert all(s["gb_per_s"] > 0 for s in data["stream"])
    # The C copy that checks ours: every thread count and store kind, against ours measured again just before
    # it (the better of with and without prefetch). Both stream the same memory: not a factor of 3 apart.
    assert {(c["threads"], c["streaming"]) for c in data["c_copy"]} == \
        {(s["threads"], s["streaming"]) for s in data["stream"]}
    for c in data["c_copy"]:
        assert c["gb_per_s"] >= c["gb_per_s_median"] > 0 and c["ours_gb_per_s"] > 0
        assert c["ours_over_c"] == pytest.approx(c["ours_gb_per_s"] / c["gb_per_s"], rel=1e-9)
        assert 1 / 3 < c["ours_over_c"] < 3
    kernel = data["heat_kernel"]
    assert {(r["ranks"], r["threads"]) for r in kernel} >= {(1, 1), (1, 2), (2, 1)}
    assert any("steps per pass" in r["scheme"] for r in kernel) and any(r["scheme"] == "plain" for r in kernel)
    # Every grid labelled by its fields' footprint against the measured cache; the one streamed from memory
    # takes at least twice the cache.
    cache = data["machine"]["last_level_cache_bytes"]
    for r in kernel:
        assert r["fields_bytes"] == 16 * r["grid"] ** 2
        assert r["fields_over_last_level_cache"] == pytest.approx(r["fields_bytes"] / cache)
        assert f"{r['grid']}^2, " in result.stdout and "x LLC" in result.stdout
    assert max(r["fields_over_last_level_cache"] for r in kernel) >= 2
    # The default scheme beside the forced ones, on the grids beyond the cache.
    assert {(r["ranks"], r["threads"]) for r in kernel if r["scheme"] == "default (automatic)"} >= {(1, 1), (1, 2), (2, 1)}
    exact = data["exact_sums"]
    for place in ("in_cache", "from_memory"):
        r = exact[place]
        assert r["bytes"] > 0 and all(r[k] > 0 for k in ("plain_ns_per_term", "exact_ns_per_term", "exact_dot_ns_per_term",
                                                         "copy_ns_per_element"))
    assert exact["diagnostic_4096"]["diagnostic_seconds"] > 0 and exact["diagnostic_4096"]["sweep_seconds"] > 0
    assert all(r["mlups"] > 0 and r["roofline_mlups"] > 0 and r["roofline_mlups_section_1"] > 0 for r in kernel)
    # Medians of per-round ratios: near the ratio of the medians, not equal to it.
    assert all(0.5 < r["fraction_of_roofline"] * r["roofline_mlups"] / r["mlups"] < 2 for r in kernel)
    assert all((r["ratio_to_c"] is None) == (r["c_reference_mlups"] is None) for r in kernel)
    for r in kernel:   # rounds of (copy, miniapp, C) closed by a copy; the row's figure is their median
        rounds = r["rounds"]
        assert len(rounds["copy_bound_mlups"]) == len(rounds["best_copy_bound_mlups"]) == len(rounds["mlups"]) + 1
        # The best copy of a moment is at least its median copy, so the bound from it is the harsher one.
        assert all(b >= t for b, t in zip(rounds["best_copy_bound_mlups"], rounds["copy_bound_mlups"]))
        assert r["fraction_of_roofline_best_copy"] <= r["fraction_of_roofline"]
        assert r["mlups"] == sorted(rounds["mlups"])[len(rounds["mlups"]) // 2]
        # Plain sweeps record, round by round, whether they went up the rows in bands.
        if "steps per pass" in r["scheme"]:
            assert r["row_bands"] is None
        else:
            assert len(r["row_bands"]) == len(rounds["mlups"]) and all(isinstance(b, bool) for b in r["row_bands"])
    assert any(r["c_reference_mlups"] for r in kernel)   # gcc is on our machines
    # The hand-tuned C sweep: the plain sweep with streaming stores on one rank, in every round.
    tuned = [r for r in kernel if r["ratio_to_tuned_c"] is not None]
    assert {(r["scheme"], r["ranks"], r["threads"]) for r in tuned} == {("plain, streaming", 1, 1), ("plain, streaming", 1, 2)}
    for r in tuned:
        assert len(r["rounds"]["tuned_c_mlups"]) == len(r["rounds"]["mlups"]) and r["tuned_c_mlups"] > 0
        assert r["tuned_c_fraction_of_roofline"] > 0 and 1 / 3 < r["ratio_to_tuned_c"] < 3
    assert all(r["tuned_c_mlups"] is None and not r["rounds"]["tuned_c_mlups"] for r in kernel if r not in tuned)
    assert "Against a hand-tuned C sweep" in result.stdout
    assert data["threads"]["fork_join_us_2_threads"] > 0
    mpi = data["mpi"]
    assert len(mpi["halo_exchange"]) == 20 and 0 <= mpi["overlap"]["hidden_fraction"] <= 1
    assert mpi["allreduce_us"]["one_exact_sum"] > 0 and mpi["hdf5_write"]["parallel_hdf5_gb_per_s"] > 0
    # Section 5: the reductions on 2, 4, ... ranks up to the cores, each against one double.
    counts = [row["ranks"] for row in data["allreduce"]]
    assert counts[0] == 2 and counts[-1] == max(2, data["machine"]["cores"]) and counts == sorted(set(counts))
    for row in data["allreduce"]:
        a = row["allreduce_us"]
        assert row["hosts"] == 1 and a["one_double"] > 0
        assert {"one_exact_sum", "one_wide_exact_sum", "diagnostic", "int64_sum_71"} <= set(a)
    assert "5. MPI_Allreduce" in result.stdout
    with h5py.File(quick_bench_run.h5) as f:
        assert json.loads(f.attrs["results_json"])["machine"]["cores"] == data["machine"]["cores"]


def test_bench_exact_sums_only_measures_section_8(tmp_path):
    result = subprocess.run([str(MINIAPP), "bench", "--quick", "--exact-sums-only", "--json", str(tmp_path / "b.json"),
                             "--h5", str(tmp_path / "b.h5")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "8. Exact sums" in result.stdout and "2. Heat kernel" not in result.stdout
    assert set(json.loads((tmp_path / "b.json").read_text())) == {"machine", "exact_sums"}
    both = subprocess.run([str(MINIAPP), "bench", "--exact-sums-only", "--network-only", "--hostfile", "/dev/null"],
                          capture_output=True, text=True, timeout=60)
    assert both.returncode == 64 and "exclude each other" in both.stderr, both.stderr


@pytest.mark.parametrize("source", ["copy_reference.c", "stencil_reference.c"])
def test_c_references_are_loops_not_library_calls(tmp_path, source):
    """The C references measure their own loops: compiled as the bench does,
    neither may call memcpy/memmove (gcc turned the plain copy into memmove,
    whose large copies use glibc's non-temporal stores, so the "ordinary"
    C copy measured streaming stores)."""
    if not shutil.which("gcc") or not shutil.which("objdump"):
        pytest.skip("gcc or objdump missing")
    binary = tmp_path / "reference"
    subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", str(REPO / "bench" / source), "-o", str(binary), "-lm"],
                   check=True)
    calls = subprocess.run(["objdump", "-d", str(binary)], check=True, capture_output=True, text=True).stdout
    assert not [line for line in calls.splitlines() if "call" in line and ("memmove" in line or "memcpy" in line)]


def test_c_stencil_variants_compute_the_same_field(tmp_path):
    """The plain, streaming and hand-tuned C sweeps (bands of four rows, vector
    and scalar columns) are the same update: the same checksum after several
    steps, bit for bit, on a grid whose rows and bands do not come out even."""
    if not shutil.which("gcc"):
        pytest.skip("gcc missing")
    binary = tmp_path / "stencil_reference"
    subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", str(REPO / "bench" / "stencil_reference.c"), "-o",
                    str(binary), "-lm"], check=True)
    sums = {}
    for mode in ["plain", "stream", "tuned"]:
        for threads in ["1", "2"]:
            out = subprocess.run([str(binary), "67", "5", threads, mode], check=True, capture_output=True, text=True)
            sums[mode, threads] = json.loads(out.stdout)["checksum"]
    assert len(set(sums.values())) == 1, sums
    assert sums["plain", "1"] != 0
