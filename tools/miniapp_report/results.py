"""Reading one miniapp result file: the documented layout only, with a clear
error for a file that is not ours or is incomplete."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np


class ReportError(Exception):
    """A file the report cannot use; the message says why."""


REQUIRED = ["timings/phases", "timings/phase_names", "timings/threads",
            "decomposition/coords", "decomposition/offsets", "decomposition/sizes"]
REQUIRED_ATTRIBUTES = ["problem", "ranks", "threads", "nx", "ny", "input_json", "version"]


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class Run:
    path: Path
    problem: str
    ranks: int
    threads: int
    nx: int
    ny: int
    steps: int
    loop_seconds: float
    phase_names: list
    phases: np.ndarray          # [ranks, phases] seconds
    thread_seconds: np.ndarray  # [ranks, threads]
    attributes: dict
    config: dict
    work: float = 0.0           # lattice-point updates (or cell-iterations) done in the loop
    work_unit: str = "MLUP/s"
    decomposition: dict = field(default_factory=dict)
    # A `--json` summary has no row per rank: each phase's (min, avg, max) over ranks.
    phase_stats: dict = None

    @property
    def cores(self):
        return self.ranks * self.threads

    @property
    def time_per_step(self):
        return self.loop_seconds / max(1, self.steps)

    @property
    def rate(self):
        """Millions of work units per second."""
        return self.work / self.loop_seconds / 1e6 if self.loop_seconds > 0 else 0.0

    @property
    def hosts(self):
        """How many hosts the ranks ran on."""
        names = self.decomposition.get("hostnames")
        return len({text(n) for n in names}) if names is not None else 1

    def phase(self, name):
        return self.phases[:, self.phase_names.index(name)] if name in self.phase_names else np.zeros(self.ranks)

    def phase_mean(self, name):
        """A phase's seconds, averaged over ranks."""
        if self.phase_stats is not None:
            return self.phase_stats.get(name, (0.0, 0.0, 0.0))[1]
        return float(self.phase(name).mean())

    def phase_max(self, name):
        """A phase's seconds on the slowest rank."""
        if self.phase_stats is not None:
            return self.phase_stats.get(name, (0.0, 0.0, 0.0))[2]
        return float(self.phase(name).max())

    def imbalance(self, names):
        """max/avg over ranks of the time in these phases. From a summary,
        which has no row per rank: the sum of their maxima over the sum of
        their averages (an upper bound; exact for one phase)."""
        if self.phase_stats is not None:
            mean = sum(self.phase_mean(n) for n in names)
            return sum(self.phase_max(n) for n in names) / mean if mean > 0 else 1.0
        compute = sum(self.phase(n) for n in names)
        return float(compute.max() / compute.mean()) if np.size(compute) and compute.mean() > 0 else 1.0


def load(path):
    """Reads a result file, or a run's `--json` summary (`.json`), or raises
    ReportError saying what is wrong."""
    path = Path(path)
    if path.suffix == ".json":
        return load_summary(path)
    if path.name.endswith(".incomplete"):
        raise ReportError(f"{path}: an incomplete file (the run did not finish; miniapp renames it when complete)")
    if not path.exists():
        raise ReportError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise ReportError(f"{path}: not an HDF5 file")
    with h5py.File(path, "r") as f:
        missing = [name for name in REQUIRED if name not in f]
        missing += [f"attribute {name}" for name in REQUIRED_ATTRIBUTES if name not in f.attrs]
        if missing:
            raise ReportError(f"{path}: not a complete miniapp result file (missing {', '.join(missing)})")
        a = {key: f.attrs[key] for key in f.attrs}
        problem = text(a["problem"])
        phase_names = [text(n) for n in f["timings/phase_names"][:]]
        phases = f["timings/phases"][:]
        # A restarted or stopped run's timings cover the steps it ran itself.
        steps = int(a.get("steps_this_run", a.get("steps", 1)))
        loop = float(a.get("loop_seconds", phases[:, phase_names.index("total")].max() if "total" in phase_names else 0))
        nx, ny = int(a["nx"]), int(a["ny"])
        config = json.loads(text(a["input_json"]))
        if problem == "tealeaf":
            iterations = a.get("iterations_this_run", a.get("total_iterations", 0))
            work, unit = float(nx) * ny * float(iterations), "Mcell-iterations/s"
        elif problem == "integrate":
            work, unit = float(nx) * ny * float(a.get("repeat", 1)) * len(config.get("integrands", [1])), "Mpoints/s"
            steps = int(a.get("repeat", 1))
        else:
            work, unit = float(nx) * ny * steps, "MLUP/s"
        decomposition = {key: f[f"decomposition/{key}"][:] for key in f["decomposition"]}
        return Run(path=path, problem=problem, ranks=int(a["ranks"]), threads=int(a["threads"]), nx=nx, ny=ny,
                   steps=steps, loop_seconds=loop, phase_names=phase_names, phases=phases,
                   thread_seconds=f["timings/threads"][:], attributes=a, config=config, work=work, work_unit=unit,
                   decomposition=decomposition)


def load_summary(path):
    """A run's `--json` summary: its figures and phases (min/avg/max over
    ranks), with neither rows per rank nor input; enough for a scaling study.
    Summaries of earlier versions wrote counts as floats and no metadata."""
    if not path.exists():
        raise ReportError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text())
        problem, ranks, threads = str(data["problem"]), int(data["ranks"]), int(data["threads"])
        metrics, phases = dict(data["metrics"]), data["phases"]
        stats = {name: (float(p["min"]), float(p["avg"]), float(p["max"])) for name, p in phases.items()}
        nx, ny = int(metrics["nx"]), int(metrics["ny"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise ReportError(f"{path}: not the --json summary of a miniapp run ({error.__class__.__name__}: {error})")
    metadata = data.get("metadata", {})
    attributes = {**metrics, **metadata, "oversubscribed": int(data.get("oversubscribed", 0))}
    loop = float(metrics.get("loop_seconds", stats.get("total", (0, 0, 0))[2]))
    if problem == "tealeaf":
        steps = int(metrics.get("steps", 1))
        work, unit = float(nx) * ny * float(metrics.get("total_iterations", 0)), "Mcell-iterations/s"
    else:
        steps = int(metrics.get("steps", 1))
        work, unit = float(nx) * ny * steps, "MLUP/s"
    hosts = str(metadata.get("hostnames", "")).split(",") if metadata.get("hostnames") else []
    decomposition = {"hostnames": np.array(hosts * ranks if len(hosts) == 1 else hosts)} if hosts else {}
    names = list(stats)
    return Run(path=path, problem=problem, ranks=ranks, threads=threads, nx=nx, ny=ny, steps=steps,
               loop_seconds=loop, phase_names=names, phases=np.array([[stats[n][1] for n in names]]),
               thread_seconds=np.zeros((1, threads)), attributes=attributes, config={}, work=work, work_unit=unit,
               decomposition=decomposition, phase_stats=stats)


def read_diagnostics(path):
    """The /diagnostics (and /summary) series of a result file, by name."""
    series = {}
    with h5py.File(path, "r") as f:
        for group in ("diagnostics", "summary", "results"):
            if group in f:
                for name in f[group]:
                    series[f"{group}/{name}"] = f[group][name][:]
    return series


def read_snapshots(path, name="u"):
    """Steps, times and the dataset of /fields/<name> (open while used)."""
    f = h5py.File(path, "r")
    if f"fields/{name}" not in f:
        f.close()
        raise ReportError(f"{path}: no field snapshots /fields/{name}")
    return f, f["fields/step"][:], f["fields/time"][:], f[f"fields/{name}"]
