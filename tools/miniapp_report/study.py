"""Strong- or weak-scaling study of miniapp over a grid of ranks x threads.

  miniapp-report study strong [--ranks 1,2,4,8] [--threads 1,2,4] [--nodes 1,2] [--input inputs/heat-large.json]
  miniapp-report study weak --ranks 1,2,4 --threads 1,2 --input inputs/heat.json --local
  miniapp-report study strong --nodes 1,2,3 --ranks 3 --threads 1 --local --hostfile $testbed/hostfile

(jobs/submit-scaling runs it from a checkout.)

With Slurm (the default) it submits one job array, an element per (nodes,
ranks, threads), then a report job that runs when all have succeeded
(--dependency=afterok). With --local it runs the same grid here, one
configuration after another, and writes the same report; with --hostfile
the ranks of a run on n nodes are dealt out over the first n hosts of the
hostfile in turn, e.g. the test bed of Tests/TestBed/cluster-start. Every run
starts through `miniapp launch` (mpirun, mpiexec or srun, as the MPI of
the binary needs); --miniapp PATH picks another build than ./miniapp.
Relative defaults (./miniapp, inputs/heat-large.json, runs/) are taken in
$MINIAPP_CHECKOUT, else in the working directory.
--nodes spreads every run over that many nodes (a list: each is a study
axis; runs with fewer ranks than nodes are left out).

Strong scaling runs the input as it is. Weak scaling keeps the points per
core fixed: the input's grid is for one core, and each configuration's grid
is multiplied by (a, b) along (x, y), a * b = ranks x threads, as square as
possible. Everything goes to a study directory (default
runs/<kind>-scaling-<date>): inputs/, results/, logs/, plan.tsv, report/.
With --model BENCH.json (from `miniapp bench --json` on a node) the report
sets the performance model's stepping time and efficiency beside each run.

--local refuses runs with more ranks x threads than the cores they would
share (this machine's, or a host's slots in the hostfile): threads waiting
for cores measure neither the code nor the machine. --oversubscribe runs
them anyway; every such run is marked in the report ("cores shared").
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .results import ReportError

# The job scripts of a study on Slurm: an element of the job array, and the report after them.
TEMPLATES = Path(__file__).resolve().parent / "slurm"


def checkout():
    """Where relative defaults are: $MINIAPP_CHECKOUT (set by jobs/submit-scaling), else here."""
    return Path(os.environ.get("MINIAPP_CHECKOUT", "."))


def report_environment():
    """The environment in which this package runs again (the report, locally or as a job): its folder on PYTHONPATH."""
    package_parent = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": package_parent + (os.pathsep + path if path else ""),
            "MINIAPP_REPORT_PYTHON": sys.executable}


def integers(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 1,2,4, got '{text}'")
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
    return values


def factors(n):
    """(a, b) with a * b = n, a >= b, as square as possible."""
    b = int(n ** 0.5)
    while n % b:
        b -= 1
    return n // b, b


def scaled_input(document, cores):
    """The weak-scaling input for `cores`: the grid grown by `cores` points."""
    document = json.loads(json.dumps(document))
    a, b = factors(cores)
    grid = document["grid"]
    if document["problem"] == "heat":
        grid["nx"], grid["ny"] = grid["nx"] * a, grid["ny"] * b
    elif document["problem"] == "tealeaf":
        grid["x_cells"], grid["y_cells"] = grid.get("x_cells", 10) * a, grid.get("y_cells", 10) * b
    elif document["problem"] == "integrate":
        raise ReportError("weak scaling of 'integrate' needs a square grid per core count; use strong")
    return document


def plan_study(args):
    study = args.study_dir or checkout() / "runs" / f"{args.kind}-scaling-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    study = study.resolve()
    for sub in ("inputs", "results", "logs", "report"):
        (study / sub).mkdir(parents=True, exist_ok=True)
    source = Path(args.input)
    is_json = source.read_text().lstrip().startswith("{")
    if args.kind == "weak" and not is_json:
        raise ReportError("weak scaling rewrites the grid, so it needs a JSON input")
    document = json.loads(source.read_text()) if is_json else None
    extra = f"--steps {args.steps}" if args.steps else ""
    lines = []
    # nodes 0: as many as Slurm (or mpirun) gives, without asking.
    plan = [(n, r, t) for n in (args.nodes or [0]) for r in args.ranks for t in args.threads if r >= n]
    if not plan:
        raise ReportError("every run would have fewer ranks than nodes")
    for index, (nodes, ranks, threads) in enumerate(plan):
        name = (f"n{nodes}-" if args.nodes else "") + f"r{ranks}-t{threads}"
        output = study / "results" / f"{name}.h5"
        if document is not None:
            run = scaled_input(document, ranks * threads) if args.kind == "weak" else json.loads(json.dumps(document))
            run.setdefault("output", {})["path"] = str(output)
            path = study / "inputs" / f"{name}.json"
            path.write_text(json.dumps(run, indent=2))
        else:
            path = study / "inputs" / f"{name}{source.suffix}"
            shutil.copy(source, path)
        lines.append(f"{index}\t{nodes}\t{ranks}\t{threads}\t{path}\t{output}\t{extra}".rstrip())
    (study / "plan.tsv").write_text("\n".join(lines) + "\n")
    (study / "report.args").write_text("".join(option + "\n" for option in report_arguments(args, study)))
    return study, lines


def report_arguments(args, study):
    """Options of the report (one per line, read by slurm/scaling-report.slurm):
    with --model, the bench figures (copied into the study) and the network's."""
    if not args.model:
        return []
    shutil.copy(args.model, study / "bench.json")
    options = ["--model", str(study / "bench.json")]
    if args.network_bench:
        shutil.copy(args.network_bench, study / "network.json")
        options += ["--network-bench", str(study / "network.json")]
    if args.network_latency is not None:
        options += ["--network-latency", str(args.network_latency)]
    if args.network_bandwidth is not None:
        options += ["--network-bandwidth", str(args.network_bandwidth)]
    return options


def check_fits(args):
    """--local: every run's ranks x threads per host within the cores it may use."""
    if args.oversubscribe:
        return
    if args.hostfile:
        slots = []
        for line in args.hostfile.read_text().splitlines():
            words = line.split("#")[0].split()
            if words:
                found = [w.split("=", 1)[1] for w in words[1:] if w.startswith(("slots=", "max_slots="))]
                slots.append(int(found[0]) if found and found[0].isdigit() else 1)
    too_many = []
    for nodes in args.nodes or [0]:
        for ranks in args.ranks:
            for threads in args.threads:
                if ranks < nodes:
                    continue
                if args.hostfile:
                    hosts = slots[:max(1, nodes)]
                    per_host = -(-ranks // len(hosts))
                    if per_host * threads > min(hosts):
                        too_many.append(f"{ranks}x{threads} on {len(hosts)} host{'s' if len(hosts) > 1 else ''} "
                                        f"({per_host * threads} threads on a host of {min(hosts)} slots)")
                elif ranks * threads > len(os.sched_getaffinity(0)):
                    too_many.append(f"{ranks}x{threads}")
    if too_many:
        where = "the hostfile's slots" if args.hostfile else f"the {len(os.sched_getaffinity(0))} cores here"
        raise ReportError(f"more ranks x threads than {where}: {', '.join(too_many)}. Their threads "
                         "would wait for cores, and the study would measure that, not the code: leave them out "
                         "(--ranks, --threads), or run them anyway with --oversubscribe (the report marks them)")


def check_slurm():
    """The default submits to Slurm: say so before anything is made when there is none."""
    missing = [tool for tool in ("sbatch", "squeue") if shutil.which(tool) is None]
    if missing:
        raise ReportError(f"no Slurm here ({' and '.join(missing)} not found): run the study on this "
                         "machine with --local, or start the project's Slurm first (slurm=$(Tests/TestBed/slurm-start) && "
                         "source $slurm/env; docs/guide/batch.md)")
    if subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).returncode != 0:
        raise ReportError("Slurm does not answer (squeue failed): run with --local, or start it "
                         "(Tests/TestBed/slurm-start; docs/guide/batch.md)")


def run_local(args, study, lines):
    for line in lines:
        index, nodes, ranks, threads, path, output, *extra = line.split("\t")
        nodes, ranks, threads = int(nodes), int(ranks), int(threads)
        # Bound to cores where ranks x threads fit them, else oversubscribed; on hosts, a rank on each in turn.
        hosts = ["--hostfile", str(args.hostfile), "--nodes", str(nodes or 1), "--round-robin"] if args.hostfile else []
        command = [str(args.miniapp), "launch", "-n", str(ranks), "--threads", str(threads), *hosts, "--",
                   "--force", "--quiet", "--output", output, *" ".join(extra).split(), path]
        print(f"study: run {index}: {ranks} ranks x {threads} threads"
              + (f" on {nodes} node{'s' if nodes > 1 else ''}" if args.nodes else ""), flush=True)
        with open(study / "logs" / f"run-{index}.out", "w") as log:
            status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=checkout()).returncode
        if status != 0:
            raise ReportError(f"run {index} failed (status {status}); see {study}/logs/run-{index}.out")
    report = subprocess.run([sys.executable, "-m", "miniapp_report", "scaling",
                             *sorted(map(str, (study / "results").glob("*.h5"))), "--out", str(study / "report"),
                             *(study / "report.args").read_text().splitlines()], cwd=checkout(), env=report_environment())
    if report.returncode != 0:
        raise ReportError("the report failed")
    print(f"study: report in {study}/report")


def sbatch(arguments, miniapp):
    result = subprocess.run(["sbatch", "--parsable", *arguments], capture_output=True, text=True, cwd=checkout(),
                            env={**report_environment(), "MINIAPP": str(miniapp)})
    if result.returncode != 0:
        raise ReportError(f"sbatch failed: {result.stderr.strip()}")
    return result.stdout.strip().split(";")[0]


def submit(args, study, lines):
    cpus = max(args.threads)
    if args.nodes:
        # Enough nodes for the widest run, enough tasks on each for the densest.
        plan = [line.split("\t")[1:3] for line in lines]
        per_node = max(-(-int(ranks) // int(nodes)) for nodes, ranks in plan)
        tasks = [f"--nodes={max(args.nodes)}", f"--ntasks-per-node={per_node}"]
    else:
        tasks = [f"--ntasks={max(args.ranks)}"]
    common = [f"--time={args.time}"] + ([f"--partition={args.partition}"] if args.partition else []) \
        + (["--exclusive"] if args.exclusive else [])
    try:
        array = sbatch(common + [f"--array=0-{len(lines) - 1}", *tasks, f"--cpus-per-task={cpus}",
                                 f"--output={study}/logs/run-%a.out", str(TEMPLATES / "scaling-task.slurm"),
                                 str(study / "plan.tsv")],
                       args.miniapp)
    except ReportError:
        if not args.study_existed:   # nothing was submitted: no half-made study is left
            shutil.rmtree(study, ignore_errors=True)
        raise
    report = sbatch(common + [f"--dependency=afterok:{array}", "--kill-on-invalid-dep=yes", "--ntasks=1",
                              f"--output={study}/logs/report.out", str(TEMPLATES / "scaling-report.slurm"), str(study)], args.miniapp)
    print(f"study: job array {array} ({len(lines)} runs), report job {report} (after the array succeeds)")
    print(f"study: study directory {study}")
    if args.wait:
        while True:
            queued = subprocess.run(["squeue", "-h", "-j", f"{array},{report}"], capture_output=True, text=True)
            if queued.returncode == 0 and not queued.stdout.strip():
                break
            time.sleep(2)
        # A cancelled or failed dependency also empties the queue: check the result.
        if not (study / "report" / "scaling.csv").exists():
            raise ReportError(f"no report was written; see {study}/logs")
        print((study / "report" / "scaling.txt").read_text(), end="")


def add_parser(commands):
    """The `study` command's options."""
    parser = commands.add_parser("study", help="run a strong- or weak-scaling study (Slurm job array, or --local) "
                                 "and report it", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["strong", "weak"])
    parser.add_argument("--ranks", type=integers, default=[1, 2, 4, 8])
    parser.add_argument("--threads", type=integers, default=[1, 2, 4])
    parser.add_argument("--nodes", type=integers, help="nodes each run is spread over, e.g. 1,2,4 (default: Slurm's choice)")
    parser.add_argument("--hostfile", type=Path, help="with --local: the hosts, the first N for a run on N nodes")
    parser.add_argument("--input", help="the input of every run (default inputs/heat-large.json)")
    parser.add_argument("--steps", type=int, help="override the input's number of steps")
    parser.add_argument("--study-dir", type=Path)
    parser.add_argument("--local", action="store_true", help="run here (miniapp launch) instead of submitting to Slurm")
    parser.add_argument("--oversubscribe", action="store_true",
                        help="with --local: also run configurations with more ranks x threads than cores (marked)")
    parser.add_argument("--miniapp", type=Path,
                        help="the miniapp build to run (default ./miniapp; e.g. .build-mpich/release/miniapp)")
    parser.add_argument("--wait", action="store_true", help="with Slurm: wait for the report job and print the report")
    parser.add_argument("--time", default="00:30:00", help="time limit of each job (default 00:30:00)")
    parser.add_argument("--partition")
    parser.add_argument("--exclusive", action="store_true", help="whole nodes per job (steadier timings)")
    parser.add_argument("--model", metavar="BENCH.json",
                        help="report the performance model beside the runs, from `miniapp bench --json` on a node")
    parser.add_argument("--network-bench", metavar="NET.json",
                        help="for the model: `miniapp bench --network-only --hostfile FILE` between two nodes")
    parser.add_argument("--network-latency", type=float, metavar="US", help="for the model: MPI latency between nodes")
    parser.add_argument("--network-bandwidth", type=float, metavar="GB/S", help="for the model: MPI bandwidth between nodes")


def run(args):
    """Plans the study, then runs it here (--local) or submits it to Slurm."""
    args.input = args.input or str(checkout() / "inputs/heat-large.json")
    args.miniapp = args.miniapp or checkout() / "miniapp"
    if not Path(args.input).exists():
        raise ReportError(f"no input file {args.input}")
    if args.model and not Path(args.model).is_file():
        raise ReportError(f"no bench file {args.model}")
    if args.network_bench and not Path(args.network_bench).is_file():
        raise ReportError(f"no bench file {args.network_bench}")
    if args.hostfile and not args.local:
        raise ReportError("--hostfile is for --local runs (under Slurm, the allocation has the nodes)")
    if args.hostfile and not args.hostfile.is_file():
        raise ReportError(f"no hostfile {args.hostfile}")
    if not args.miniapp.exists():
        raise ReportError(f"{args.miniapp} is missing; run scripts/setup first")
    args.miniapp = args.miniapp.resolve()
    check_fits(args) if args.local else check_slurm()
    args.study_existed = args.study_dir is not None and args.study_dir.exists()
    study, lines = plan_study(args)
    run_local(args, study, lines) if args.local else submit(args, study, lines)
