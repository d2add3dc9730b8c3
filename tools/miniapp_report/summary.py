"""One run: its input, decomposition, timings and diagnostics, and images of
its diagnostics and field snapshots."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .results import ReportError, read_diagnostics, read_snapshots, text  # noqa: E402


def describe(run):
    a = run.attributes
    lines = [f"{run.path}: {run.problem}, miniapp {text(a['version'])}, created {text(a.get('created', '?'))}",
             f"  {run.ranks} ranks x {run.threads} threads, process grid {list(a['dims'])}, grid {run.nx} x {run.ny}",
             f"  MPI: {text(a.get('mpi_library', '?')).split(',')[0]}, {text(a.get('mpi_thread_level', '?'))}; "
             f"HDF5 {text(a.get('hdf5_version', '?'))}",
             f"  loop {run.loop_seconds:.4g} s for {run.steps} steps: {run.time_per_step:.4g} s per step, "
             f"{run.rate:.1f} {run.work_unit}"]
    ending = text(a.get("ending", "completed"))
    if ending == "stopped":
        lines.append(f"  stopped by {text(a['stopped_by'])} after step {a['stopped_at_step']} (a checkpoint holds the state)")
    elif ending == "diverged":
        lines.append(f"  diverged: not finite after step {a['diverged_at_step']}, finite after step {a['last_finite_step']}")
    if "restarted_from" in a:
        lines.append(f"  restarted from {text(a['restarted_from'])} at step {a['restart_step']}")
    lines += ["", "input:"]
    lines += ["  " + line for line in json.dumps(run.config, indent=2).splitlines()]
    d = run.decomposition
    hosts = [text(h) for h in d.get("hostnames", [""] * run.ranks)]
    affinity = [text(h) for h in d.get("affinity", [""] * run.ranks)]
    lines += ["", "decomposition:", "  rank  coords      offset          size  host         cpus"]
    for k in range(run.ranks):
        lines.append(f"  {k:4d}  {str(list(d['coords'][k])):10s}  {str(list(d['offsets'][k])):14s}  "
                     f"{str(list(d['sizes'][k])):12s}  {hosts[k]:12s} {affinity[k]}")
    lines += ["", "timings (seconds over ranks):", f"  {'phase':14s} {'min':>10s} {'avg':>10s} {'max':>10s}"]
    for k, name in enumerate(run.phase_names):
        column = run.phases[:, k]
        lines.append(f"  {name:14s} {column.min():10.4f} {column.mean():10.4f} {column.max():10.4f}")
    series = read_diagnostics(run.path)
    if series:
        lines += ["", "diagnostics (first -> last):"]
        for name, values in series.items():
            if values.dtype.kind in "fi" and values.size:
                lines.append(f"  {name:32s} {values[0]:.10g} -> {values[-1]:.10g}  ({values.size} values)")
    return "\n".join(lines) + "\n"


def diagnostics_plot(run, out):
    """Diagnostics over time: one panel per quantity (errors on a log scale)."""
    series = read_diagnostics(run.path)
    groups = []
    if run.problem == "heat":
        t = series["diagnostics/time"]
        groups = [("total heat", [("total", series["diagnostics/total"])], False),
                  ("extremes", [("min", series["diagnostics/min"]), ("max", series["diagnostics/max"])], False),
                  ("errors", [(n, series[f"diagnostics/{n}"]) for n in
                              ("l2_error", "linf_error", "l2_error_continuum", "linf_error_continuum")
                              if np.isfinite(series[f"diagnostics/{n}"]).any()], True)]
    elif run.problem == "tealeaf":
        t = series["diagnostics/time"]
        groups = [("iterations per step", [("iterations", series["diagnostics/iterations"])], False),
                  ("residual", [("solver", series["diagnostics/residual"]),
                                ("true", series["diagnostics/true_residual"])], True)]
        ts = series["summary/time"]
        groups.append(("temperature sum U", [("U", (ts, series["summary/temperature"]))], False))
    else:
        raise ReportError(f"{run.path}: no time series to plot for problem {run.problem}")
    groups = [g for g in groups if g[1]]
    fig, axes = plt.subplots(len(groups), 1, figsize=(7, 2.6 * len(groups)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (title, curves, log) in zip(axes, groups):
        for label, values in curves:
            x, y = values if isinstance(values, tuple) else (t, values)
            positive = np.where(y > 0, y, np.nan) if log else y
            ax.plot(x, positive, "o-", markersize=3, label=label)
        if log:
            ax.set_yscale("log")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    axes[-1].set_xlabel("time")
    fig.suptitle(f"{run.path.name}: diagnostics", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def field_images(run, out_dir, which="last", name="u"):
    """PNG images of field snapshots (`which`: 'last', 'all' or an index)."""
    f, steps, times, dataset = read_snapshots(run.path, name)
    try:
        count = dataset.shape[0]
        if count == 0:
            raise ReportError(f"{run.path}: /fields/{name} has no snapshots")
        indices = range(count) if which == "all" else [count - 1 if which == "last" else int(which)]
        a = run.attributes
        if run.problem == "tealeaf":
            g = run.config["grid"]
            extent = [g["xmin"], g["xmax"], g["ymin"], g["ymax"]]
        else:
            g = run.config.get("grid", {})
            extent = [0, g.get("lx", run.nx), 0, g.get("ly", run.ny)]
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        vmin, vmax = None, None
        for k in indices:
            if not 0 <= k < count:
                raise ReportError(f"{run.path}: snapshot {k} does not exist (there are {count})")
            values = dataset[k]
            fig, ax = plt.subplots(figsize=(6.4, 5.2 * run.ny / max(run.nx, run.ny) + 0.8))
            image = ax.imshow(values, origin="lower", extent=extent, cmap="inferno", aspect="equal",
                              vmin=vmin, vmax=vmax)
            fig.colorbar(image, ax=ax, label=name)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
            ax.set_title(f"{name} at step {steps[k]}, t = {times[k]:.5g}")
            fig.tight_layout()
            path = out_dir / f"{run.path.stem}_{name}_{k:04d}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
        return written
    finally:
        f.close()
