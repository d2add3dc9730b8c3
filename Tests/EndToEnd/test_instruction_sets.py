"""Results do not depend on the vector instructions the kernels were built
for (README, "Reproducibility"): a second build for baseline x86-64 (SSE2
only; the band kernels' multiply-adds computed by a library call) gives the
bits of this build (AVX-512 or AVX2) for every heat scheme and a TeaLeaf
solve. The second build takes a few minutes; it goes to its own folder and
is reused while the sources do not change."""

import json
import os
import platform
import subprocess

import pytest

from conftest import REPO, heat_input

BASELINE_BUILD = REPO / ".build" / "baseline-x86-64"


@pytest.fixture(scope="module")
def baseline_miniapp():
    if platform.machine() != "x86_64":
        pytest.skip("instruction-set builds are chosen for x86-64 only")
    build = subprocess.run(["swift", "build", "-c", "release", "--product", "miniapp",
                            "--scratch-path", str(BASELINE_BUILD)],
                           cwd=REPO, env={**os.environ, "MINIAPP_MARCH": "x86-64"},
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return BASELINE_BUILD / "release" / "miniapp"


SCHEMES = [
    {},
    {"halo_depth": 4, "temporal_blocking": True},
    {"halo_depth": 3, "temporal_blocking": True, "streaming_stores": "on", "software_prefetch": "on"},
]


def test_baseline_build_gives_the_same_bits(run_miniapp, baseline_miniapp):
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
        for label, binary in [("native", None), ("baseline", baseline_miniapp)]:
            run = run_miniapp(document, np=2, threads=2, binary=binary, name=f"{name}_{label}", timeout=300)
            assert run.returncode == 0, run.stderr
            with run.h5() as f:
                results.append((f["fields/u"][:].tobytes(), f["fields/step"][:].tobytes(),
                                {key: f["diagnostics"][key][:].tobytes() for key in f["diagnostics"]
                                 if not key.endswith("_seconds")}))   # timings differ, of course
                vectors.append(f.attrs["kernel_vectors"].decode())
        assert vectors[1] == "SSE2 (x86-64 baseline)" and vectors[0] != vectors[1], vectors   # two builds, really
        assert results[0] == results[1], f"{name}: {vectors[0]} and {vectors[1]} differ"
