"""The dated results page of one machine (docs/results/): every figure of a
`miniapp bench --json` file as Markdown tables, and, from scaling studies
reported with `--model`, the performance model against the measured runs.
Generated, never edited by hand: a new bench makes a new page."""

import csv
import datetime
import json
from pathlib import Path

from .results import ReportError


def number(value, digits=0):
    return "-" if value is None else f"{value:.{digits}f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def read(path):
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        data["machine"]["cores"]
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file")
    except (ValueError, KeyError, TypeError) as error:
        raise ReportError(f"{path}: not the JSON of `miniapp bench` ({error.__class__.__name__}: {error})")
    return data


def memory_section(data):
    stream = data.get("stream", [])
    if not stream:
        return []
    threads = sorted({s["threads"] for s in stream})

    def bandwidth(kernel, t, streaming, prefetch):
        found = [s["gb_per_s"] for s in stream if (s["kernel"], s["threads"], s["streaming"], s["prefetch"])
                 == (kernel, t, streaming, prefetch)]
        return number(found[0], 1) if found else "-"
    rows = []
    for streaming, prefetch, name in [(False, False, "ordinary stores"), (False, True, "ordinary stores, prefetch"),
                                      (True, False, "streaming stores"), (True, True, "streaming stores, prefetch")]:
        rows.append([f"STREAM copy / triad, {name} (GB/s)"]
                    + [f"{bandwidth('copy', t, streaming, prefetch)} / {bandwidth('triad', t, streaming, prefetch)}"
                       for t in threads])
    for streaming in (False, True):
        ratios = {c["threads"]: c["ours_over_c"] for c in data.get("c_copy", []) if c["streaming"] == streaming}
        rows.append([f"ours over the C copy, {'streaming' if streaming else 'ordinary'} stores"]
                    + [number(ratios.get(t), 2) for t in threads])
    per_update = data.get("roofline_bytes_per_update", 16)
    for streaming in (False, True):
        best = [max((s["gb_per_s"] for s in stream if s["kernel"] == "copy" and s["threads"] == t
                     and s["streaming"] == streaming), default=None) for t in threads]
        rows.append([f"roofline bound, {'streaming' if streaming else 'ordinary'} stores (MLUP/s)"]
                    + [number(b * 1e3 / per_update if b else None) for b in best])
    return ["## 1. Memory bandwidth and the roofline", "",
            table([""] + [f"{t} thread{'s' if t != 1 else ''}" for t in threads], rows), "",
            f"Bound: the better copy (with or without prefetch) / {per_update} B per update (the stencil streams "
            "one array in and one out, as copy does)."]


def kernel_section(data):
    kernel = data.get("heat_kernel", [])
    if not kernel:
        return []
    layouts = sorted({(r["ranks"], r["threads"]) for r in kernel}, key=lambda rt: (rt[0] * rt[1], rt[0]))
    rows = []
    for grid, scheme in dict.fromkeys((r["grid"], r["scheme"]) for r in kernel):
        cells, ratios = [], []
        for ranks, threads in layouts:
            found = [r for r in kernel if (r["grid"], r["scheme"], r["ranks"], r["threads"]) == (grid, scheme, ranks, threads)]
            if not found:
                cells.append("-")
                continue
            r = found[0]
            multi = "steps per pass" in scheme
            fraction = (f"{r['fraction_of_roofline']:.2f}x; {r['fraction_of_roofline_best_copy']:.2f}x" if multi
                        else f"{100 * r['fraction_of_roofline']:.0f}%; {100 * r['fraction_of_roofline_best_copy']:.0f}%")
            cells.append(f"{r['mlups']:.0f} ({fraction})")
            ratios.append(number(r["ratio_to_c"], 2) if r.get("ratio_to_c") is not None else "-")
        first = next(r for r in kernel if r["grid"] == grid)
        footprint = first.get("fields_over_last_level_cache")
        label = f"{grid}^2" + (f" ({first['fields_bytes'] / 2**20:.0f} MiB, {footprint:.1f}x LLC)" if footprint else "")
        rows.append([label, scheme] + cells + [", ".join(ratios)])
    header = ["grid", "scheme"] + [f"{r} x {t}" for r, t in layouts] + ["ratio to C `-O3 -march=native`"]
    lines = ["## 2. Heat kernel: stepping MLUP/s", "",
             "Medians of the rounds; in brackets the fraction of the bound measured in the same round (median copy; "
             "best copy), or for several steps per pass the multiple of the streaming-store bound.", "",
             table(header, rows)]
    tuned = [r for r in kernel if r.get("ratio_to_tuned_c") is not None]
    if tuned:
        lines += ["", "Against the hand-tuned C sweep (`stencil_reference.c tuned`): "
                  + "; ".join(f"{r['grid']}^2 {r['ranks']} x {r['threads']}: C {r['tuned_c_mlups']:.0f} MLUP/s "
                              f"({100 * r['tuned_c_fraction_of_roofline']:.0f}% of the bound), miniapp over it "
                              f"{r['ratio_to_tuned_c']:.2f}" for r in tuned) + "."]
    tiles = [r for r in kernel if r.get("tile_columns")]
    if tiles:
        lines += ["", "Column tiles chosen by `tile_columns` `auto`, round by round: "
                  + "; ".join(f"{r['grid']}^2 {r['scheme']} {r['ranks']} x {r['threads']}: "
                              + ", ".join(str(c) for c in r["tile_columns"]) for r in tiles) + " (0: whole rows)."]
    return lines


def pool_section(data):
    threads = data.get("threads", {})
    if not threads:
        return []
    rows = [[key.replace("fork_join_us_", "fork-join round, ").replace("_threads", " threads") + " (us)", number(v, 2)]
            for key, v in sorted(threads.items()) if key.startswith("fork_join_us_")]
    rows.append(["clock read (ns)", number(threads.get("clock_read_ns"), 1)])
    return ["## 3. Thread pool and timers", "", table(["", ""], rows)]


def mpi_section(section, title):
    sizes = [r for r in section.get("halo_exchange", [])
             if r["bytes"] in (8, 512, 4096, 32768, 262144, 2 << 20, 4 << 20)]
    lines = [title, "", table(["bytes each way", "microseconds", "GB/s"],
                              [[r["bytes"], number(r["microseconds"], 1), number(r["gigabytes_per_second"], 2)]
                               for r in sizes])]
    for key, label in (("overlap", "Overlap"), ("overlap_small", "Overlap, a small exchange")):
        o = section.get(key)
        if not o:
            continue
        lines += ["", f"{label}: {o['message_bytes']} bytes each way, exchange alone {o['exchange_ms']:.3f} ms, interior "
                  f"{o['compute_ms']:.3f} ms; blocking {o['blocking_ms']:.3f} ms, overlapped with calls into MPI "
                  f"{o['overlapped_ms']:.3f} ms ({100 * o['hidden_fraction']:.0f}% of the exchange hidden, "
                  f"{100 * o['time_saved_fraction']:.0f}% saved), without them {o['unpolled_ms']:.3f} ms "
                  f"({100 * o['unpolled_hidden_fraction']:.0f}% hidden, {100 * o['unpolled_time_saved_fraction']:.0f}% saved)."]
    a = section.get("allreduce_us")
    if a and "diagnostic" in a:
        lines += ["", "MPI_Allreduce, 2 ranks: " + describe_reductions(a) + "."]
    elif a:   # a bench of before 2026-12-05
        lines += ["", f"MPI_Allreduce: one double {a['one_double']:.2f} us, one exact sum (71 Int64) "
                  f"{a['one_exact_sum']:.2f} us, three {a['three_exact_sums']:.2f} us."]
    hosts = section.get("allreduce_hosts")
    if hosts:
        lines += ["", f"MPI_Allreduce, one rank on each of {hosts['hosts']} hosts: "
                  + describe_reductions(hosts["allreduce_us"]) + "."]
    h = section.get("hdf5_write")
    if h:
        lines += ["", f"Writing {h['bytes'] / 2**20:.0f} MiB: parallel HDF5 (collective, 2 ranks) "
                  f"{h['parallel_hdf5_gb_per_s']:.2f} GB/s, one write(2) {h['plain_write_gb_per_s']:.2f} GB/s."]
    return lines


def exact_sum_section(data):
    section = data.get("exact_sums")
    if not section:
        return []
    rows = []
    for key, label in (("in_cache", "in L2"), ("from_memory", "beyond the cache")):
        r = section.get(key)
        if r:
            rows.append([f"{label}, {r['bytes'] / 2**20:.2f} MiB", number(r["plain_ns_per_term"], 2),
                         number(r["exact_ns_per_term"], 2), number(r["exact_dot_ns_per_term"], 2),
                         number(r["copy_ns_per_element"], 2),
                         number(r["exact_ns_per_term"] / r["plain_ns_per_term"], 2)])
    lines = ["## 8. Exact sums", "", "One thread, nanoseconds per term (a copy: per element).", "",
             table(["array", "plain sum", "exact sum", "exact dot", "copy", "exact / plain"], rows)]
    for key, d in sorted(section.items()):
        if key.startswith("diagnostic_"):
            n = key.split("_")[1]
            lines += ["", f"One exact diagnostic of {n}^2 on {d['threads']} threads (sum, min, max, two L2 and max "
                      f"errors): {d['diagnostic_seconds'] * 1e3:.1f} ms; one sweep {d['sweep_seconds'] * 1e3:.1f} ms "
                      f"({d['diagnostic_seconds'] / d['sweep_seconds']:.2f} sweeps)."]
    return lines


def describe_reductions(a):
    one = a["one_double"]

    def cell(key):
        return f"{a[key]:.2f} us ({a[key] / one:.2f}x)"
    return (f"one double {one:.2f} us; exact, one sum {cell('one_exact_sum')}, one of terms from 1 to 2^-1000 "
            f"{cell('one_wide_exact_sum')}, a diagnostic (3 sums, 4 maxima) {cell('diagnostic')}; "
            f"71 Int64 with MPI_SUM {cell('int64_sum_71')}")


def reduction_section(data):
    rows = [r for r in data.get("allreduce", []) if "diagnostic" in r.get("allreduce_us", {})]
    if not rows:
        return []
    header = ["ranks", "hosts", "1 double (us)", "exact sum (us)", "1 to 2^-1000 (us)", "diagnostic (us)",
              "71 Int64 MPI_SUM (us)", "exact sum / double"]
    body = []
    for r in rows:
        a = r["allreduce_us"]
        body.append([r["ranks"], r["hosts"], number(a["one_double"], 2), number(a["one_exact_sum"], 2),
                     number(a["one_wide_exact_sum"], 2), number(a["diagnostic"], 2), number(a["int64_sum_71"], 2),
                     number(a["one_exact_sum"] / a["one_double"], 2)])
    return ["## 5. Exact reductions across the ranks of one host", "",
            "Medians of MPI_Allreduce, each with the work of its rank before and after: an exact sum sends a window "
            "of the live digits of its terms (near 1: 3 digits of 32 bits; from 1 to 2^-1000, as a CG solve's dot "
            "products come to: 34); a heat diagnostic sends three sums and four maxima in one message.", "", table(header, body)]


def model_section(studies):
    rows = []
    for directory in studies:
        directory = Path(directory)
        path = directory / "scaling.csv" if (directory / "scaling.csv").exists() else directory / "report" / "scaling.csv"
        if not path.exists():
            raise ReportError(f"{directory}: no scaling.csv or report/scaling.csv (a study reported with --model)")
        for r in csv.DictReader(path.open()):
            if "model_per_step" not in r:
                raise ReportError(f"{path}: reported without --model")
            model = float(r["model_per_step"])
            rows.append([r["grid"], r["ranks"], r["threads"], r.get("hosts", "1"),
                         f"{float(r['stepping_per_step']) * 1e6:.1f}",
                         "-" if model != model else f"{model * 1e6:.1f}",
                         "-" if model != model else f"{float(r['model_over_measured']):.2f}"])
    return ["## The performance model against runs", "",
            "Stepping time per step (halo exchange and stencil), measured and predicted from this page's bench "
            "figures; `-`: a run the model does not describe (more cores busy on a machine than the bench had).", "",
            table(["grid", "ranks", "threads", "hosts", "measured (us)", "model (us)", "model / measured"], rows)]


def page(bench_path, studies=(), date=None):
    data = read(bench_path)
    m = data["machine"]
    when = date or datetime.date.fromtimestamp(Path(bench_path).stat().st_mtime).isoformat()
    lines = [f"# Results: {m.get('cpu', 'unknown CPU')}, {m['cores']} cores ({when})", "",
             f"Generated by `miniapp-report results` from the JSON of `miniapp bench{' --quick' if m.get('quick') else ''}"
             f"{' --hostfile' if 'mpi_network' in data else ''}` on host `{m.get('host', '?')}`; do not edit by hand "
             "(a new bench makes a new page). What the figures mean: [the performance guide](../performance.md).", "",
             table(["", ""], [["CPU", m.get("cpu", "?")], ["cores", m["cores"]],
                              ["last-level cache", f"{m['last_level_cache_bytes'] / 2**20:.1f} MiB"],
                              ["kernels built for", m.get("kernel_vectors", "?")],
                              ["quick bench", "yes" if m.get("quick") else "no"]]), ""]
    for section in (memory_section(data), kernel_section(data), pool_section(data)):
        if section:
            lines += section + [""]
    if "mpi" in data:
        lines += mpi_section(data["mpi"], "## 4-6. MPI between 2 ranks of one host, and HDF5") + [""]
    section = reduction_section(data)
    if section:
        lines += section + [""]
    if "mpi_network" in data:
        network = data["mpi_network"]
        hosts = " and ".join(network.get("hosts", []))
        lines += mpi_section(network, f"## 7. MPI between two hosts ({hosts})") + [""]
    section = exact_sum_section(data)
    if section:
        lines += section + [""]
    if studies:
        lines += model_section(studies) + [""]
    return "\n".join(lines)
