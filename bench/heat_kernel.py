"""Heat-kernel benchmark: MLUP/s of miniapp's explicit stencil for
1 rank x 1 thread, 1 x 2 and 2 x 1 on a 4096 x 4096 grid, against a plain C
5-point loop compiled with gcc -O3 -march=native (bench/stencil_reference.c)
using as many threads. Runs are interleaved and repeated: this machine is
shared and noisy, so compare the ratios of one run, not absolute numbers
between runs.

Our figure is the "stepping" rate: updates / time in the step phases
(halo exchange, interior, boundary), which excludes diagnostics and file
output, like the C loop.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py

REPO = Path(__file__).resolve().parents[1]


def build_reference(out_dir):
    binary = out_dir / "stencil_reference"
    subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", str(REPO / "bench/stencil_reference.c"),
                    "-o", str(binary), "-lm"], check=True)
    return binary


def run_reference(binary, n, steps, threads):
    result = subprocess.run([str(binary), str(n), str(steps), str(threads)], capture_output=True, text=True,
                            check=True, env={**os.environ, "OMP_PROC_BIND": "close", "OMP_PLACES": "cores"})
    return json.loads(result.stdout)["mlups_mean"]


def run_miniapp(ranks, threads, n, steps, work_dir):
    document = {
        "problem": "heat",
        "grid": {"nx": n, "ny": n},
        "time": {"steps": steps},
        "initial": {"type": "sine", "modes": [1, 1]},
        "output": {"path": str(work_dir / "bench.h5"), "every": 0, "diagnostics_every": 0},
    }
    path = work_dir / "bench.json"
    path.write_text(json.dumps(document))
    # One core per thread, threads pinned to them.
    command = ["mpirun", "-np", str(ranks), "--map-by", f"slot:PE={threads}", "--bind-to", "core",
               str(REPO / "miniapp"), "--threads", str(threads), "--force", "--quiet", str(path)]
    subprocess.run(command, check=True)
    with h5py.File(work_dir / "bench.h5") as f:
        return float(f.attrs["mlups_stepping"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4096, help="grid points per axis (default 4096)")
    parser.add_argument("--steps", type=int, default=40, help="time steps per run (default 40)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration (default 3)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    configurations = [(1, 1), (1, 2), (2, 1)]
    with tempfile.TemporaryDirectory(prefix="miniapp-bench-") as tmp:
        work = Path(tmp)
        reference = build_reference(work)
        ours = {c: [] for c in configurations}
        theirs = {c: [] for c in configurations}
        for round_ in range(args.repeat):
            for ranks, threads in configurations:
                theirs[(ranks, threads)].append(run_reference(reference, args.n, args.steps, ranks * threads))
                ours[(ranks, threads)].append(run_miniapp(ranks, threads, args.n, args.steps, work))
            print(f"round {round_ + 1}/{args.repeat} done", file=sys.stderr)

    print(f"\nheat kernel, {args.n} x {args.n} grid, {args.steps} steps, median of {args.repeat} interleaved runs")
    print(f"{'ranks x threads':>16} {'miniapp MLUP/s':>15} {'C gcc -O3 MLUP/s':>17} {'ratio':>7}")
    rows = []
    for c in configurations:
        mine, ref = statistics.median(ours[c]), statistics.median(theirs[c])
        rows.append({"ranks": c[0], "threads": c[1], "miniapp_mlups": mine, "c_reference_mlups": ref,
                     "ratio": mine / ref, "miniapp_runs": ours[c], "c_reference_runs": theirs[c]})
        print(f"{c[0]:>8} x {c[1]:<6} {mine:>15.1f} {ref:>17.1f} {mine / ref:>7.2f}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "steps": args.steps, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
