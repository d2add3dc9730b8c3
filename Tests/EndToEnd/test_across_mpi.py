"""One source, both MPI families: miniapp built with Open MPI and with MPICH
(scripts/test builds both where both are installed) gives bitwise identical
fields, diagnostics and checkpoints for the same input. Every sum is exact
(threads, then ranks: windows of Int64 digits), so nothing depends on the
order in which an MPI library combines its reductions (our own reduction
operation adds digits, aligned, exactly). A checkpoint written
under one implementation restarts under the other; a binary started by the
other's launcher says so and stops; `miniapp launch` speaks each launcher."""

import json
import shlex
import subprocess

import h5py
import pytest

from conftest import MINIAPP, REPO, SECOND, heat_input, launch, launched, mpi_family
from test_restart import CHAIN_INPUT, assert_bitwise_equal, series, write_input
from test_tealeaf import PUBLISHED, WIDE_SPAN

pytestmark = [pytest.mark.correctness,
              pytest.mark.skipif(SECOND is None, reason="one MPI family here: scripts/test builds the other where "
                                 "it is installed (MINIAPP_SECOND)")]

BUILDS = {mpi_family(MINIAPP): MINIAPP, **({mpi_family(SECOND): SECOND} if SECOND else {})}

# (name, input, ranks, threads): uneven grids, periodic axes, 2-4 ranks x 1-2 threads, deep halos.
CASES = [
    ("uneven-dirichlet", heat_input(), 3, 1),
    ("periodic-x", heat_input(grid={"nx": 50, "ny": 37}, boundary={"x": "periodic", "value": 0.25},
                              initial={"type": "gaussian", "center": [0.6, 0.7], "width": 0.2}), 2, 2),
    ("periodic-both", heat_input(grid={"nx": 41, "ny": 58}, boundary={"x": "periodic", "y": "periodic"},
                                 initial={"type": "gaussian", "center": [0.3, 0.5], "width": 0.15}), 4, 1),
    ("deep-halos", heat_input(grid={"nx": 96, "ny": 70}, scheme={"halo_depth": 4, "temporal_blocking": True}), 2, 2),
    ("tealeaf-wide-sums", WIDE_SPAN, 3, 1),   # exact sums wider than their first window
]


def results(run):
    assert run.returncode == 0, run.stdout + run.stderr
    return series(run.output)


@pytest.mark.parametrize("name, document, ranks, threads", CASES, ids=[c[0] for c in CASES])
def test_the_same_bits_under_both_implementations(run_miniapp, name, document, ranks, threads):
    runs = {family: run_miniapp(document, np=ranks, threads=threads, binary=binary, name=f"{name}-{family}")
            for family, binary in BUILDS.items()}
    for family, run in runs.items():
        with run.h5() as f:   # each ran under its own library
            assert ("Open MPI" in f.attrs["mpi_library"]) == (family == "openmpi")
    (first, a), (second, b) = [(family, results(run)) for family, run in runs.items()]
    assert sorted(a) == sorted(b)
    for dataset in a:
        assert a[dataset].tobytes() == b[dataset].tobytes(), f"{dataset}: {first} and {second} differ"


def test_a_tealeaf_deck_gives_the_published_sum_under_both(run_miniapp, tmp_path):
    runs = []
    for family, binary in BUILDS.items():
        output = tmp_path / f"tea-{family}.h5"
        run = run_miniapp(REPO / "inputs/tea_bm_2.in", np=2, threads=1, binary=binary, args=["--output", str(output)],
                          timeout=300)
        run.output = output
        runs.append(run)
    data = [results(run) for run in runs]
    for dataset in data[0]:
        assert data[0][dataset].tobytes() == data[1][dataset].tobytes(), dataset
    for run in runs:
        with run.h5() as f:
            assert abs(f.attrs["field_summary_temperature"] - PUBLISHED[2]) / PUBLISHED[2] < 1e-9


def checkpoint_contents(path):
    """The state, series and counters of a checkpoint (not when or by how many ranks it was written)."""
    contents = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, item: contents.__setitem__(name, item[()].tobytes())
                     if isinstance(item, h5py.Dataset) else None)
        for key in ("step", "time", "nx", "ny"):
            contents[f"@{key}"] = f.attrs[key].tobytes()
        contents["@u.sum"] = f["state/u"].attrs["sum"].tobytes()
    return contents


@pytest.mark.parametrize("writer", ["openmpi", "mpich"])
def test_a_checkpoint_restarts_under_the_other_implementation(tmp_path, writer):
    """Checkpoints of both are the same bits; one written under `writer`,
    continued under the other on other ranks x threads, ends as a run that
    never stopped."""
    reader = next(family for family in BUILDS if family != writer)
    source = write_input(tmp_path, CHAIN_INPUT)
    reference = launched(tmp_path, 2, 1, ["--output", "reference.h5", "--checkpoint-every", "0", source],
                         binary=BUILDS[reader])
    assert reference.returncode == 0, reference.stderr
    for family, binary in BUILDS.items():
        first = launched(tmp_path, 3, 1, ["--steps", "40", "--output", f"{family}.h5", source], binary=binary)
        assert first.returncode == 0, first.stderr
    assert checkpoint_contents(tmp_path / "openmpi.chk.h5") == checkpoint_contents(tmp_path / "mpich.chk.h5")
    resumed = launched(tmp_path, 2, 2, ["--restart", f"{writer}.chk.h5", "--steps", "120"], binary=BUILDS[reader])
    assert resumed.returncode == 0, resumed.stderr
    assert_bitwise_equal(tmp_path / f"{writer}.h5", tmp_path / "reference.h5")


@pytest.mark.parametrize("family", ["openmpi", "mpich"])
def test_the_other_launcher_is_refused_with_one_message(tmp_path, family):
    """The other implementation's launcher would start N singletons writing one
    file: the binary compares the launcher's process count with its world's."""
    binary = BUILDS[family]
    other = BUILDS[next(f for f in BUILDS if f != family)]
    source = write_input(tmp_path, heat_input(output={"path": "wrong.h5"}))
    # The other build's launch command, with this binary in place of the other.
    words = shlex.split(subprocess.run([str(other), "launch", "--dry-run", "-n", "3", "--", "--quiet", str(source)],
                                       capture_output=True, text=True, check=True).stdout)
    variables = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith(("-", "/")))
    command = [str(binary) if word == str(other.resolve()) else word for word in words if word not in
               [f"{k}={v}" for k, v in variables.items()]]
    assert str(binary) in command
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={**__import__("os").environ, **variables})
    errors = [line for line in result.stderr.splitlines() if line.startswith("miniapp: error:")]
    assert result.returncode != 0
    assert len(errors) == 1, result.stderr
    launcher = "Open MPI's mpirun" if family == "mpich" else "an MPICH-family mpiexec (Hydra)"
    assert f"{launcher} started it as 3 processes" in errors[0] and "miniapp launch" in errors[0], errors[0]
    assert not (tmp_path / "wrong.h5").exists() and not list(tmp_path.glob("*.incomplete"))


def test_launch_speaks_each_launcher():
    """The same request, as each implementation's launcher takes it."""
    expected = {
        "openmpi": ["-n 4 --map-by slot:PE=2 --bind-to core", "-n 3 --oversubscribe --bind-to none"],
        "mpich": ["-n 4 -bind-to core:2", "-n 3 -bind-to none"],
    }
    for family, binary in BUILDS.items():
        fitting = subprocess.run([str(binary), "launch", "--dry-run", "-n", "4", "--threads", "2", "--bind", "cores",
                                  "--", "x.json"], capture_output=True, text=True)
        crowded = subprocess.run([str(binary), "launch", "--dry-run", "-n", "3", "--threads", "2", "--", "x.json"],
                                 capture_output=True, text=True)
        assert expected[family][0] in fitting.stdout, fitting.stdout + fitting.stderr
        assert expected[family][1] in crowded.stdout, crowded.stdout + crowded.stderr
        assert fitting.stdout.rstrip().endswith("--threads 2 x.json")


def test_a_local_scaling_study_under_each_implementation(tmp_path):
    """jobs/submit-scaling --local with either build (--miniapp)."""
    source = tmp_path / "small.json"
    source.write_text(json.dumps(heat_input(output={"every": 0, "diagnostics_every": 0})))
    for family, binary in BUILDS.items():
        study = tmp_path / family
        result = subprocess.run([str(REPO / "jobs/submit-scaling"), "strong", "--local", "--miniapp", str(binary),
                                 "--ranks", "1,2", "--threads", "1", "--input", str(source), "--steps", "20",
                                 "--study-dir", str(study)], capture_output=True, text=True, cwd=REPO, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        for ranks in (1, 2):
            with h5py.File(study / "results" / f"r{ranks}-t1.h5") as f:
                assert f.attrs["ranks"] == ranks
                assert ("Open MPI" in f.attrs["mpi_library"]) == (family == "openmpi")
        assert (study / "report/scaling.csv").exists()


def test_mpich_over_two_hosts_gives_the_bits_of_open_mpi_on_one(testbed, run_miniapp, tmp_path):
    """Hydra's mpiexec on the test bed (its rsh launcher through the bed's
    agent), messages over TCP (UCX_TLS=tcp,self), against Open MPI on one host."""
    document = heat_input(grid={"nx": 83, "ny": 61}, boundary={"y": "periodic"})
    one_host = run_miniapp(document, np=3, binary=BUILDS["openmpi"], name="openmpi-one-host")
    command = testbed.launch_command(BUILDS["mpich"], 2, 2, tmp_path)
    output = tmp_path / "mpich-two-hosts.h5"
    document = {**document, "output": {**document["output"], "path": str(output)}}
    source = write_input(tmp_path, document, "two-hosts.json")
    across = subprocess.run(command + ["--threads", "1", str(source)], capture_output=True, text=True, timeout=180,
                            cwd=tmp_path, env=testbed.env)
    assert across.returncode == 0, across.stdout + across.stderr
    with h5py.File(output) as f:
        assert sorted(h.decode() for h in f["decomposition/hostnames"][:]) == ["node1", "node2"]
        assert "MPICH" in f.attrs["mpi_library"]
    a, b = series(one_host.output), series(output)
    for dataset in a:
        assert a[dataset].tobytes() == b[dataset].tobytes(), dataset
