"""Results do not depend on the vector instructions the kernels were built
for (docs/numerics.md): second builds for baseline x86-64 (SSE2
only; the band kernels' multiply-adds computed by a library call) and, on a
host with AVX-512, for AVX2 (x86-64-v3: 8-wide vectors in two registers)
give the bits of this build for every heat scheme and a TeaLeaf solve. Each
second build takes a minute or two; it goes to its own folder and is reused
while the sources do not change."""

import json
import os
import platform
import subprocess

import pytest

from conftest import MPI_FAMILY, REPO, heat_input

# MINIAPP_MARCH of a second build, and the `kernel_vectors` its results files carry.
BUILDS = {"x86-64": "SSE2 (x86-64 baseline)", "x86-64-v3": "AVX2 (x86-64-v3)"}


def host_has_avx512():
    """As Package.swift decides the default build."""
    flags = next((line.split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    return {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= set(flags)


@pytest.fixture(scope="module", params=BUILDS.keys())
def other_build(request):
    march = request.param
    if platform.machine() != "x86_64":
        pytest.skip("instruction-set builds are chosen for x86-64 only")
    if march == "x86-64-v3" and not host_has_avx512():
        pytest.skip("the default build is already x86-64-v3 on this host")
    # Built for the MPI of the binary under test: scripts/test exports its configuration (PKG_CONFIG_PATH).
    folder = REPO / f".build-{MPI_FAMILY}-march-{march}"
    build = subprocess.run(["swift", "build", "-c", "release", "--product", "miniapp", "--scratch-path", str(folder),
                            "--disable-build-manifest-caching"],
                           cwd=REPO, env={**os.environ, "MINIAPP_MARCH": march},
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return folder / "release" / "miniapp", BUILDS[march]


SCHEMES = [
    {},
    {"halo_depth": 4, "temporal_blocking": True},
    {"halo_depth": 3, "temporal_blocking": True, "streaming_stores": "on", "software_prefetch": "on"},
]


def test_other_builds_give_the_same_bits(run_miniapp, other_build):
    other_binary, expected_vectors = other_build
    # A grid whose rows take every path of the band kernels (vectors, and columns left over).
    base = heat_input(grid={"nx": 203, "ny": 61}, boundary={"x": "periodic", "value": 0.25},
                      time={"steps": 40}, initial={"type": "gaussian", "center": [0.6, 0.7], "width": 0.2},
                      output={"every": 20, "diagnostics_every": 5})
    tealeaf = json.loads((REPO / "inputs" / "tea_bm_2.json").read_text())
    tealeaf["grid"]["x_cells"] = tealeaf["grid"]["y_cells"] = 96
    tealeaf["solver"].update({"method": "ppcg", "preconditioner": "jac_diag", "halo_depth": 2})
    tealeaf["verification"]["test_problem"] = None
    tealeaf["output"]["path"] = "tea.h5"
    cases = [(f"heat{k}", {**base, "scheme": scheme}) for k, scheme in enumerate(SCHEMES)] + [("tea", tealeaf)]
    for name, document in cases:
        results, vectors = [], []
        for label, binary in [("native", None), ("other", other_binary)]:
            run = run_miniapp(document, np=2, threads=2, binary=binary, name=f"{name}_{label}", timeout=300)
            assert run.returncode == 0, run.stderr
            with run.h5() as f:
                results.append((f["fields/u"][:].tobytes(), f["fields/step"][:].tobytes(),
                                {key: f["diagnostics"][key][:].tobytes() for key in f["diagnostics"]
                                 if not key.endswith("_seconds")}))   # timings differ, of course
                vectors.append(f.attrs["kernel_vectors"])
        assert vectors[1] == expected_vectors and vectors[0] != vectors[1], vectors   # two builds, really
        assert results[0] == results[1], f"{name}: {vectors[0]} and {vectors[1]} differ"
