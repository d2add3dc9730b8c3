"""Helpers for the end-to-end tests: run ./miniapp through its launcher
(`miniapp launch`: a real mpirun, mpiexec or srun, as its MPI needs) and read
what it wrote with h5py (an independent reader of our HDF5 layout).

MINIAPP names the binary under test (scripts/test sets it; default
./miniapp), MINIAPP_SECOND a build for the other MPI family, if any."""

import csv
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MINIAPP = Path(os.environ.get("MINIAPP") or REPO / "miniapp")
SECOND = Path(os.environ["MINIAPP_SECOND"]) if os.environ.get("MINIAPP_SECOND") else None


def mpi_family(binary=MINIAPP):
    """"openmpi" or "mpich": the MPI family `binary` is built with (from its --version)."""
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout
    return "openmpi" if "Open MPI" in version else "mpich"


MPI_FAMILY = mpi_family() if MINIAPP.exists() else None


def launch(binary=MINIAPP, np=1, *options):
    """The command that starts `binary` on `np` ranks through its own launcher;
    miniapp's arguments follow it."""
    return [str(binary), "launch", "-n", str(np), *map(str, options), "--"]


def launched(tmp_path, np, threads, args, timeout=180, binary=MINIAPP, env=None):
    """`miniapp launch -n np --threads threads -- args` in tmp_path, run to its end."""
    return subprocess.run(launch(binary, np, "--threads", threads) + [*map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path, env={**os.environ, **(env or {})})


def rank_processes(launcher_pid):
    """{rank: pid} of the miniapp processes below a launcher (its children
    under mpirun, its grandchildren under Hydra's proxy), read from /proc:
    processes that end meanwhile are left out."""
    parents, names = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        pid = int(stat.parent.name)
        names[pid] = text[text.index("(") + 1:text.rindex(")")]
        parents[pid] = int(text.rsplit(")", 1)[1].split()[1])

    def below(pid):
        while pid in parents and pid != launcher_pid:
            pid = parents[pid]
        return pid == launcher_pid

    ranks = {}
    for pid, name in names.items():
        if name == "miniapp" and pid != launcher_pid and below(pid):
            try:
                environment = dict(v.split(b"=", 1) for v in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in v)
            except OSError:
                continue
            rank = environment.get(b"OMPI_COMM_WORLD_RANK") or environment.get(b"PMI_RANK")
            if rank is not None:
                ranks[int(rank)] = pid
    return ranks


def environment_of(path):
    """os.environ with the variables a script's `env` file exports (`source DIR/env`)."""
    env = dict(os.environ)
    for line in Path(path).read_text().splitlines():
        if line.startswith("export "):
            for assignment in line[len("export "):].split():
                key, value = assignment.split("=", 1)
                env[key] = value
    return env


def pytest_configure(config):
    config.addinivalue_line("markers", "correctness: results against exact and published values, bitwise "
                            "comparisons, restarts and bad input; scripts/test runs them under the second MPI too")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    output: Path

    def errors(self):
        """Our error lines (mpirun adds its own notes about exit codes)."""
        return [line for line in self.stderr.splitlines() if line.startswith("miniapp: error:")]

    def h5(self):
        return h5py.File(self.output, "r")


def heat_input(**sections):
    """A heat input: small defaults, updated section by section."""
    document = {
        "problem": "heat",
        "grid": {"nx": 67, "ny": 45, "lx": 2.0, "ly": 1.5},
        "boundary": {"x": "dirichlet", "y": "dirichlet", "value": 0.0},
        "physics": {"alpha": 0.7},
        "time": {"steps": 60, "dt": None, "safety": 0.9},
        "initial": {"type": "sine", "modes": [2, 3], "amplitude": 1.5},
        "decomposition": {"dims": [0, 0]},
        "output": {"path": "out.h5", "every": 20, "diagnostics_every": 10},
    }
    for name, values in sections.items():
        if values is None:
            document.pop(name, None)
        elif name == "initial":
            document[name] = values  # replaced whole: its keys depend on the type
        else:
            document.setdefault(name, {}).update(values)
    return document


@dataclass
class Bench:
    result: subprocess.CompletedProcess
    json: Path
    h5: Path


@pytest.fixture(scope="session")
def quick_bench_run(tmp_path_factory):
    """One `miniapp bench --quick` for the session (a few minutes): its
    output checked by test_performance, its figures used by test_model."""
    directory = tmp_path_factory.mktemp("bench")
    result = subprocess.run([str(MINIAPP), "bench", "--quick", "--json", str(directory / "bench.json"),
                             "--h5", str(directory / "bench.h5")], capture_output=True, text=True, timeout=900,
                            cwd=directory)
    return Bench(result, directory / "bench.json", directory / "bench.h5")


@pytest.fixture
def quick_bench(quick_bench_run):
    """The JSON of the session's quick bench (which must have succeeded)."""
    result = quick_bench_run.result
    assert result.returncode == 0, result.stdout + result.stderr
    return quick_bench_run.json


def make_runner(tmp_path, launcher, environment=None):
    """run(input, np=1, threads=1, args=[], timeout=120, launch_args=[], env=None, name=None, binary=None,
    **where) -> Run, with `launcher(binary, np, launch_args, **where)` the command before miniapp's arguments.

    `input` is a dict (written as JSON) or a path; output goes to tmp_path.
    """
    assert MINIAPP.exists(), "build first: scripts/setup --no-run"
    counter = [0]

    def run(document, np=1, threads=1, args=(), timeout=120, launch_args=(), env=None, name=None, binary=None,
            **where):
        counter[0] += 1
        stem = name or f"run{counter[0]}"
        if document is None:      # --restart without an input
            input_path = None
            output = tmp_path / f"{stem}.h5"
        elif isinstance(document, dict):
            document = json.loads(json.dumps(document))
            document.setdefault("output", {})
            if "path" in document["output"] and not os.path.isabs(document["output"]["path"]):
                document["output"]["path"] = str(tmp_path / f"{stem}.h5")
            input_path = tmp_path / f"{stem}.json"
            input_path.write_text(json.dumps(document, indent=2))
            output = Path(document["output"].get("path", tmp_path / "heat.h5"))
        else:
            input_path = Path(document)
            output = tmp_path / f"{stem}.h5"
        # --threads to the launcher, which binds each rank to that many cores and passes it on.
        options = [*(["--threads", str(threads)] if threads is not None else []), *launch_args]
        command = [*launcher(binary or MINIAPP, np, options, **where), *args, *([str(input_path)] if input_path else [])]
        started = time.monotonic()
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                                env={**(environment or os.environ), **(env or {})})
        return Run(result.returncode, result.stdout, result.stderr, time.monotonic() - started, output)

    return run


@pytest.fixture
def run_miniapp(tmp_path):
    """run_miniapp(input, np=1, threads=1, args=[], timeout=120, binary=MINIAPP) -> Run, on this machine."""
    return make_runner(tmp_path, lambda binary, np, extra: launch(binary, np, *extra))


def started_test_bed(hosts, delay=None):
    """A test bed of `hosts` hosts (Tests/TestBed/cluster-start; links `delay`
    long) for a fixture to yield, stopped afterwards; or a skip that says why
    this machine cannot make one."""
    from testbed import TestBed
    bed, why = TestBed.start(hosts=hosts, delay=delay)
    if bed is None:
        pytest.skip(why)
    yield bed
    bed.stop()


def network_bench_on(bed, directory):
    """`miniapp bench --network-only` between two hosts of a test bed
    (seconds): the completed process and its JSON."""
    result = subprocess.run([str(MINIAPP), "bench", "--network-only", "--hostfile", str(bed.directory / "hostfile"),
                             "--json", str(directory / "network.json"), "--h5", str(directory / "network.h5")],
                            capture_output=True, text=True, timeout=300, cwd=directory, env=bed.env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, directory / "network.json"


def local_study_on_hosts(bed, tmp_path, grid, steps, nodes, ranks, model, network_json, extra=()):
    """`jobs/submit-scaling strong --local` over the hosts of a test bed: a heat
    run of `grid` points a side for each number of hosts and of ranks, reported
    against the model of `model` with the network of `network_json`. Returns the
    report's rows by (ranks, hosts)."""
    source = tmp_path / "input.json"
    source.write_text(json.dumps(heat_input(grid={"nx": grid, "ny": grid}, time={"steps": steps},
                                            output={"every": 0, "diagnostics_every": 0})))
    study = tmp_path / "study"
    result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--local", "--hostfile",
                             str(bed.directory / "hostfile"), "--nodes", ",".join(map(str, nodes)),
                             "--ranks", ",".join(map(str, ranks)), "--threads", "1", *extra,
                             "--input", str(source), "--study-dir", str(study), "--model", str(model),
                             "--network-bench", str(network_json)],
                            capture_output=True, text=True, cwd=REPO, timeout=600, env=bed.env)
    assert result.returncode == 0, result.stdout + result.stderr
    with (study / "report/scaling.csv").open() as table:
        return {(int(r["ranks"]), int(r["hosts"])): r for r in csv.DictReader(table)}


def runner_on_hosts(bed, tmp_path):
    """run(input, hosts=2, np=..., threads=1, args=[], tcp_only=True) -> Run: mpirun over the first `hosts`
    hosts of a test bed (or the named ones), ranks dealt out host by host, TCP only between ranks."""
    return make_runner(tmp_path, lambda binary, np, extra, hosts=2, tcp_only=True:
                       bed.launch_command(binary, hosts, np, tmp_path, tcp_only=tcp_only, launch_args=extra),
                       environment=bed.env)


@pytest.fixture(scope="session")
def testbed():
    """A test bed of 3 hosts for the session."""
    yield from started_test_bed(3)


@pytest.fixture(scope="session")
def network_bench(testbed, tmp_path_factory):
    return network_bench_on(testbed, tmp_path_factory.mktemp("network"))


@pytest.fixture
def run_on_hosts(testbed, tmp_path):
    return runner_on_hosts(testbed, tmp_path)


def exact_sine(f):
    """The exact discrete solution u = A g^k sin(m pi x/Lx) sin(n pi y/Ly) of
    every snapshot in file f, computed independently from the input."""
    cfg = json.loads(f.attrs["input_json"])
    g, b, t = cfg["grid"], cfg["boundary"], cfg["initial"]
    alpha = cfg["physics"]["alpha"]
    nx, ny, lx, ly = g["nx"], g["ny"], g["lx"], g["ly"]

    def axis(n, length, kind):
        if kind == "dirichlet":
            h = length / (n + 1)
            return h, (np.arange(n) + 1) * h
        h = length / n
        return h, (np.arange(n) + 0.5) * h

    hx, x = axis(nx, lx, b["x"])
    hy, y = axis(ny, ly, b["y"])
    dt = f.attrs["dt"]
    m, n = t["modes"]
    growth = (1 - 4 * alpha * dt / hx**2 * np.sin(m * np.pi * hx / (2 * lx)) ** 2
              - 4 * alpha * dt / hy**2 * np.sin(n * np.pi * hy / (2 * ly)) ** 2)
    profile = np.outer(np.sin(n * np.pi * y / ly), np.sin(m * np.pi * x / lx))
    steps = f["fields/step"][:]
    return np.array([t["amplitude"] * growth**k * profile for k in steps]), (hx, hy, x, y)


# A field whose checkpoint (1.2 GB, synced to disk) takes about a second or
# more to write here: as long as a launcher's grace between its stop signal
# and SIGKILL (mpirun: 1 s). A checkpoint every 60 steps (seconds apart), so
# that one is complete before the stop and the next write is the stop's.
BIG_CHECKPOINT_EVERY = 60
BIG_INPUT = heat_input(grid={"nx": 12000, "ny": 12000}, time={"steps": 1_000_000}, scheme={"halo_depth": 1},
                       output={"path": "big.h5", "every": 0, "diagnostics_every": 0,
                               "checkpoint_every": BIG_CHECKPOINT_EVERY})


def wait_for_path(path, process, timeout=180):
    """Until `path` exists (a staged file is renamed to it when complete), while `process` runs."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"the run ended before {path.name} was written"
        assert time.monotonic() < deadline, f"no {path.name} after {timeout} s"
        time.sleep(0.05)


def kill_during_the_stop_checkpoint(directory, process, kill):
    """Once the stop's checkpoint is being written (its staged file exists),
    `kill()` the ranks, as the launcher does after its grace period: here
    at a moment known to be inside the write, whatever the disk's speed."""
    staged = directory / "big.chk.h5.incomplete"
    deadline = time.monotonic() + 60
    while not staged.exists():
        assert process.poll() is None, "the run ended before the stop's checkpoint began"
        assert time.monotonic() < deadline, "no checkpoint began after the stop signal"
        time.sleep(0.001)
    kill()


STOP_NOTICE = re.compile(r"miniapp: stopping on (SIG\w+) after step (\d+): writing the checkpoint '([^']+)'\. Should "
                         r"the ranks be killed before it is complete, the checkpoint of step (\d+) stays in '([^']+)': "
                         r"continue with `miniapp --restart ([^`]+)`\.")


def assert_the_cut_checkpoint_left_the_previous_one(directory, stderr, binary=MINIAPP):
    """After the ranks were killed while writing the checkpoint of a stop:
    the notice printed before that write named the checkpoint to continue
    from; under its final name that checkpoint is whole (the cut write is
    left as .incomplete), and a restart from it runs."""
    notice = STOP_NOTICE.search(stderr)
    assert notice, stderr
    assert "miniapp: stopped by" not in stderr, "the checkpoint was complete before the kill: " + stderr
    stopped_at, previous = int(notice[2]), int(notice[4])
    assert previous % BIG_CHECKPOINT_EVERY == 0 and 0 < previous < stopped_at
    assert notice[6] == "big.chk.h5" and notice[5].endswith("big.chk.h5")
    with h5py.File(directory / "big.chk.h5") as f:
        assert f.attrs["step"] == previous
    assert (directory / "big.chk.h5.incomplete").exists()
    # The checkpoint's checksums are verified on reading: a restart proves it whole.
    restarted = launched(directory, 2, 1, ["--restart", "big.chk.h5", "--steps", str(previous + 2), "--output", "after.h5"],
                         binary=binary, timeout=300)
    assert restarted.returncode == 0, restarted.stderr
    with h5py.File(directory / "after.h5") as f:
        assert f.attrs["restart_step"] == previous and f.attrs["steps_this_run"] == 2
    for big in directory.glob("*.h5*"):
        big.unlink()
