"""Scaling studies: a table (text, CSV, Markdown) and plots from the result
files of runs of the same problem on different ranks x threads."""

import csv
import io
import math
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import model  # noqa: E402
from .results import ReportError, text  # noqa: E402

# Phases stacked in the breakdown, in this order; the rest is "other".
BREAKDOWN = {
    "heat": ["interior", "boundary", "halo_post", "halo_wait", "reduction", "io"],
    "tealeaf": ["stencil", "update", "preconditioner", "halo", "reduction", "summary", "io"],
    "integrate": ["compute", "reduction", "io"],
}
COMPUTE = {"heat": ["interior", "boundary"], "tealeaf": ["stencil", "update", "preconditioner"],
           "integrate": ["compute"]}


def study_kind(runs):
    """'strong' when every run solves the same grid, else 'weak'."""
    return "strong" if len({(r.nx, r.ny) for r in runs}) == 1 else "weak"


def rows(runs, kind=None, machine=None):
    """One row per run, sorted by cores, with speedup and efficiency against
    the run with the fewest cores; with a `model.Machine`, also the measured
    stepping time per step against the model's, and the model's efficiency."""
    if not runs:
        raise ReportError("no result files")
    problems = {r.problem for r in runs}
    if len(problems) > 1:
        raise ReportError(f"results of different problems cannot be compared: {', '.join(sorted(problems))}")
    kind = kind or study_kind(runs)
    runs = sorted(runs, key=lambda r: (r.cores, r.ranks, r.hosts))
    base = runs[0]
    table = []
    for r in runs:
        ideal = r.cores / base.cores
        if kind == "strong":
            speedup = base.loop_seconds / r.loop_seconds if r.loop_seconds > 0 else float("nan")
        else:
            # Scaled speedup: the work grows with the cores; ideal is a constant time per step.
            speedup = (r.work / base.work) * (base.loop_seconds / r.loop_seconds) if r.loop_seconds > 0 else float("nan")
        imbalance = r.imbalance(COMPUTE.get(r.problem, []))
        table.append({
            "oversubscribed": "yes" if int(r.attributes.get("oversubscribed", 0)) else "no",
            "ranks": r.ranks, "threads": r.threads, "hosts": r.hosts, "cores": r.cores, "grid": f"{r.nx}x{r.ny}",
            "steps": r.steps, "time_per_step": r.time_per_step, "rate": r.rate, "speedup": speedup,
            "ideal_speedup": ideal, "efficiency": speedup / ideal, "imbalance": imbalance, "file": str(r.path),
        })
    if machine is not None:
        add_model(kind, table, runs, machine)
    return kind, table


def add_model(kind, table, runs, machine):
    """Columns of the performance model (heat runs): measured stepping time
    per step (halo exchange and stencil, as `stepping_seconds`), the model's,
    their ratio, and the efficiency the model predicts; and the run's exact
    reductions (`exact_reductions`) at the bench's measured cost of one,
    beside the slowest rank's reduction phase, which also holds the passes
    over the field that feed them."""
    predictions = []
    for index, run in enumerate(runs):
        try:
            predictions.append(model.predict_run(machine, run))
        except ReportError as error:
            if index == 0:   # the base of every efficiency
                raise
            # e.g. more cores on a node than the bench had: that row has no model, and the report says why
            print(f"miniapp-report: no model for {run.path}: {error}", file=sys.stderr)
            table[index]["model_note"] = str(error)
            predictions.append(None)
    def stepping(run):
        return float(run.attributes.get("stepping_seconds", math.nan)) / max(1, run.steps)

    def efficiency(base_time, time, run, row):
        """Like the table's efficiency, from times per step."""
        speedup = base_time / time
        if kind == "weak":
            speedup *= (run.nx * run.ny) / (runs[0].nx * runs[0].ny)
        return speedup / row["ideal_speedup"]

    for row, run, p in zip(table, runs, predictions):
        measured = stepping(run)
        row.update(stepping_per_step=measured, stepping_efficiency=efficiency(stepping(runs[0]), measured, run, row),
                   model_per_step=math.nan, model_over_measured=math.nan, model_efficiency=math.nan,
                   reductions_model=math.nan, reduction_phase=run.phase_max("reduction"))
        if p is not None:
            row.update(model_per_step=p.step, model_over_measured=p.step / measured,
                       model_efficiency=efficiency(predictions[0].step, p.step, run, row))
            count = run.attributes.get("exact_reductions")
            if p.reduction is not None and count is not None:
                row["reductions_model"] = p.reduction * int(count)
    return table


COLUMNS = [("ranks", "ranks", "{}"), ("threads", "threads", "{}"), ("hosts", "hosts", "{}"), ("cores", "cores", "{}"),
           ("grid", "grid", "{}"),
           ("steps", "steps", "{}"), ("time_per_step", "time/step [s]", "{:.4e}"), ("rate", "rate", "{:.1f}"),
           ("speedup", "speedup", "{:.3f}"), ("efficiency", "efficiency", "{:.3f}"), ("imbalance", "imbalance", "{:.3f}"),
           ("oversubscribed", "cores shared", "{}")]
MODEL_COLUMNS = [("stepping_per_step", "stepping/step [s]", "{:.4e}"), ("model_per_step", "model/step [s]", "{:.4e}"),
                 ("model_over_measured", "model/measured", "{:.3f}"), ("stepping_efficiency", "stepping eff.", "{:.3f}"),
                 ("model_efficiency", "model eff.", "{:.3f}"),
                 ("reductions_model", "exact reductions, model [s]", "{:.3e}"),
                 ("reduction_phase", "reduction phase [s]", "{:.3e}")]


def columns(table):
    return COLUMNS + (MODEL_COLUMNS if "model_per_step" in table[0] else [])


def headers(table, unit):
    return [title if key != "rate" else unit for key, title, _ in columns(table)]


def as_text(kind, table, unit):
    header = headers(table, unit)
    cells = [[fmt.format(row[key]) for key, _, fmt in columns(table)] for row in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = [f"{kind} scaling, {len(table)} runs (speedup and efficiency against {table[0]['cores']} core"
             f"{'s' if table[0]['cores'] != 1 else ''}; imbalance = max/avg compute time over ranks)"]
    if "model_per_step" in table[0]:
        lines.append("model: the performance model's time per step against the measured stepping time (halo "
                     "exchange and stencil: no diagnostics, no output), and the efficiency of each")
    lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    shared = oversubscription_note(table)
    return "\n".join(lines + ([shared] if shared else []) + model_notes(table)) + "\n"


def model_notes(table):
    """Why rows have no model (nan in its columns)."""
    return [f"no model for {r['ranks']}x{r['threads']}: {r['model_note']}" for r in table if "model_note" in r]


def oversubscription_note(table):
    """What a reader must know of runs whose threads shared cores."""
    shared = [f"{r['ranks']}x{r['threads']}" for r in table if r["oversubscribed"] == "yes"]
    if not shared:
        return ""
    return (f"cores shared: {', '.join(shared)} ran more threads than their machine has CPUs for (--oversubscribe): "
            "threads waited for cores, so their times, speedups and efficiencies do not measure the code or the "
            "machine (hollow points in the plots)")


def as_csv(table):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[key for key, _, _ in columns(table)] + ["ideal_speedup", "file"])
    writer.writeheader()
    for row in table:
        writer.writerow({key: row[key] for key in writer.fieldnames})
    return out.getvalue()


def as_markdown(kind, table, unit):
    header = headers(table, unit)
    lines = [f"**{kind} scaling**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt.format(row[key]) for key, _, fmt in columns(table)) + " |" for row in table]
    notes = ([oversubscription_note(table)] if oversubscription_note(table) else []) + model_notes(table)
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def read_peer(spec):
    """`LABEL=FILE.csv`: another code's times on the same study, a CSV with
    columns ranks, threads, time_per_step (seconds)."""
    label, _, name = spec.partition("=")
    if not label or not name:
        raise ReportError(f"--peer {spec}: give LABEL=FILE.csv")
    try:
        with open(name, newline="") as f:
            points = [(int(r["ranks"]), int(r["threads"]), float(r["time_per_step"])) for r in csv.DictReader(f)]
    except (OSError, KeyError, TypeError, ValueError) as error:
        raise ReportError(f"--peer {spec}: a CSV with columns ranks, threads, time_per_step "
                          f"({error.__class__.__name__}: {error})")
    return label, points


def machine_label(runs):
    """The machine, from the runs' metadata: CPU model, hosts, cores per host."""
    a = runs[0].attributes
    cpu = text(a.get("cpu_model", "")).strip()
    hosts = max(r.hosts for r in runs)
    cores = max(r.cores for r in runs) // max(1, hosts)
    where = f"{hosts} hosts" if hosts > 1 else "one host"
    return f"{cpu + ', ' if cpu else ''}{where}, up to {cores} cores each"


def layout_series(points):
    """The lines of a study as a reader follows them: ranks of one thread
    each, threads of one rank (1 x 1 belongs to both), and the hybrid runs
    (several ranks of several threads), whose splits differ: points, not a
    line. Each: (label, points sorted by cores, marker, whether to join).
    `points`: dicts with ranks and threads."""
    groups = [("ranks x 1 thread", lambda p: p["threads"] == 1, "o", True),
              ("1 rank x threads", lambda p: p["ranks"] == 1, "s", True),
              ("hybrid (ranks x threads)", lambda p: p["ranks"] > 1 and p["threads"] > 1, "^", False)]
    series = []
    for label, member, marker, joined in groups:
        chosen = sorted((p for p in points if member(p)), key=lambda p: p["ranks"] * p["threads"])
        if chosen and (len(chosen) > 1 or not joined or len(points) == 1):
            series.append((label, chosen, marker, joined))
    return series


def time_axes(axis, kind, base, cores):
    """Time per step against cores, log-log, with the ideal from the base
    run: falling as 1/cores (strong), flat (weak)."""
    if kind == "strong":
        axis.plot(cores, [base["time_per_step"] * base["cores"] / c for c in cores], "k--", label="ideal")
    else:
        axis.axhline(base["time_per_step"], color="k", linestyle="--", label="ideal")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("cores (ranks x threads)")
    axis.set_ylabel("time per step [s]")


def story_plot(kind, table, runs, out_dir, peers=(), machine=None):
    """scaling.png: the study in one figure. Time per step and parallel
    efficiency against cores, each against ideal (and the model, and peer
    codes, where given), titled with the problem, grid, steps, machine and
    whether any run's threads shared cores."""
    base = table[0]
    cores = sorted({r["cores"] for r in table})
    has_model = "model_per_step" in base
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.8))
    for label, rows_, marker, joined in layout_series(table):
        style = marker + ("-" if joined else "")
        c = [r["cores"] for r in rows_]
        line, = left.plot(c, [r["time_per_step"] for r in rows_], style, label=f"miniapp, {label}")
        color = line.get_color()
        right.plot(c, [r["efficiency"] for r in rows_], style, color=color, label=f"miniapp, {label}")
        shared = [r for r in rows_ if r["oversubscribed"] == "yes"]
        for axis, key in ((left, "time_per_step"), (right, "efficiency")):
            if shared:
                axis.plot([r["cores"] for r in shared], [r[key] for r in shared], marker, markerfacecolor="white",
                          color=color, markersize=9)
        if has_model:
            left.plot(c, [r["model_per_step"] for r in rows_], "x:", color=color, label=f"model, {label}")
            right.plot(c, [r["model_efficiency"] for r in rows_], "x:", color=color, label=f"model, {label}")
    for name, points in peers:
        rows_ = [{"ranks": r, "threads": t, "time": time} for r, t, time in points]
        one = next((p["time"] for p in rows_ if p["ranks"] * p["threads"] == base["cores"]), None)
        for (label, line, marker, joined), gray in zip(layout_series(rows_), ("0.3", "0.55", "0.55")):
            style = marker + ("-." if joined else "")
            c = [p["ranks"] * p["threads"] for p in line]
            left.plot(c, [p["time"] for p in line], style, color=gray, markerfacecolor="none", label=f"{name}, {label}")
            if one is not None and kind == "strong":
                right.plot(c, [one / p["time"] / (k / base["cores"]) for p, k in zip(line, c)], style, color=gray,
                           markerfacecolor="none", label=f"{name}, {label}")
    time_axes(left, kind, base, cores)
    left.set_xticks(cores, [str(c) for c in cores])
    left.set_title("time per step (lower is better)")
    left.legend(fontsize=7)
    right.axhline(1.0, color="k", linestyle="--", label="ideal")
    finite = [v for r in table for v in (r["efficiency"], r.get("model_efficiency", math.nan)) if math.isfinite(v)]
    right.set_ylim(0, max(1.1, max(finite) * 1.1))
    right.set_xscale("log", base=2)
    right.set_xticks(cores, [str(c) for c in cores])
    right.set_xlabel("cores (ranks x threads)")
    right.set_ylabel("parallel efficiency")
    right.set_title(f"efficiency against {base['cores']} core{'s' if base['cores'] != 1 else ''}, each code its own")
    right.legend(fontsize=7)
    grids = sorted({r["grid"] for r in table})
    steps = sorted({r["steps"] for r in table})
    shared = ("cores shared by some runs (hollow points): their times do not measure the machine"
              if oversubscription_note(table) else "no run shares cores")
    fig.suptitle(f"{kind} scaling of {runs[0].problem}: grid {', '.join(grids).replace('x', ' x ')}, "
                 f"{', '.join(map(str, steps))} steps, on {machine or machine_label(runs)}\n{shared}"
                 + ("" if has_model else "; no model (no bench of this machine given)"), fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "scaling.png", dpi=110)
    plt.close(fig)
    return out_dir / "scaling.png"


def plot(kind, table, runs, out_dir, peers=(), machine=None):
    """scaling.png (the study in one figure: `story_plot`), speedup.png
    (speedup and efficiency against ideal), time_per_step.png, phases.png
    (stacked per-phase time per step, with rank imbalance)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    several_hosts = len({r["hosts"] for r in table}) > 1
    labels = [f"{r['ranks']}x{r['threads']}" + (f" on {r['hosts']}" if several_hosts else "") for r in table]
    written = [story_plot(kind, table, runs, out_dir, peers, machine)]

    # One series per threads-per-rank (and hosts, where they vary): runs with
    # the same core count but a different split are different points, not a
    # jump in one line.
    series = {}
    for row in table:
        series.setdefault((row["threads"], row["hosts"] if several_hosts else 0), []).append(row)
    ideal_cores = sorted({r["cores"] for r in table})
    base = table[0]

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    def series_label(key):
        threads, hosts = key
        return f"{threads} thread{'s' if threads != 1 else ''}/rank" + (f", {hosts} host{'s' if hosts != 1 else ''}"
                                                                       if hosts else "")

    def hollow(axis, rows_, key, color):
        """Open circles over the runs whose threads shared cores."""
        shared = [r for r in rows_ if r["oversubscribed"] == "yes"]
        if shared:
            axis.plot([r["cores"] for r in shared], [r[key] for r in shared], "o", markerfacecolor="white",
                      color=color, markersize=8)

    for key, rows_ in sorted(series.items()):
        label = series_label(key)
        c = [r["cores"] for r in rows_]
        speed, = left.plot(c, [r["speedup"] for r in rows_], "o-", label=label)
        line, = right.plot(c, [r["efficiency"] for r in rows_], "o-", label=label)
        hollow(left, rows_, "speedup", speed.get_color())
        hollow(right, rows_, "efficiency", line.get_color())
        if "model_efficiency" in rows_[0]:   # the model predicts the stepping: compare like with like
            right.plot(c, [r["stepping_efficiency"] for r in rows_], "s--", color=line.get_color(),
                       label=f"{label}, stepping only")
            right.plot(c, [r["model_efficiency"] for r in rows_], "x:", color=line.get_color(), label=f"{label}, model")
    left.plot(ideal_cores, [c / base["cores"] for c in ideal_cores], "k--", label="ideal")
    left.set_xlabel("cores (ranks x threads)")
    left.set_ylabel("scaled speedup" if kind == "weak" else "speedup")
    left.set_xscale("log", base=2)
    left.set_yscale("log", base=2)
    left.legend(fontsize=8)
    left.set_title(f"{kind} scaling: speedup" + (" (hollow: cores shared)" if oversubscription_note(table) else ""))
    right.axhline(1.0, color="k", linestyle="--", label="ideal")
    highest = max(v for r in table for v in (r["efficiency"], r.get("stepping_efficiency", 0), r.get("model_efficiency", 0))
                  if math.isfinite(v))
    right.set_ylim(0, max(1.1, highest * 1.1))
    right.set_xscale("log", base=2)
    right.set_xlabel("cores (ranks x threads)")
    right.set_ylabel("parallel efficiency")
    right.set_title("efficiency")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "speedup.png", dpi=110)
    plt.close(fig)
    written.append(out_dir / "speedup.png")

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for key, rows_ in sorted(series.items()):
        ax.plot([r["cores"] for r in rows_], [r["time_per_step"] for r in rows_], "o-", label=series_label(key))
    time_axes(ax, kind, base, ideal_cores)
    ax.set_title(f"{kind} scaling: time per step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_dir / "time_per_step.png", dpi=110)
    plt.close(fig)
    written.append(out_dir / "time_per_step.png")

    problem = runs[0].problem
    names = BREAKDOWN.get(problem, [])
    by_file = {str(r.path): r for r in runs}
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(table) + 3), 4.5))
    bottom = np.zeros(len(table))
    for name in names + ["other"]:
        values = []
        for row in table:
            r = by_file[row["file"]]
            if name == "other":
                known = sum(r.phase_mean(n) for n in names)
                value = max(0.0, r.loop_seconds - known)
            else:
                value = r.phase_mean(name)
            values.append(value / max(1, r.steps))
        values = np.array(values)
        ax.bar(labels, values, bottom=bottom, label=name.replace("_", " "))
        bottom += values
    for x, (height, row) in enumerate(zip(bottom, table)):
        ax.text(x, height, f"imb. {row['imbalance']:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("ranks x threads" + (" on hosts" if several_hosts else ""))
    ax.set_ylabel("seconds per step (average over ranks)")
    ax.set_title("time per step by phase (imbalance = max/avg compute)")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out_dir / "phases.png", dpi=110)
    plt.close(fig)
    written.append(out_dir / "phases.png")
    return written
