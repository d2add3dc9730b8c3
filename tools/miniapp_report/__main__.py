"""miniapp-report: tables and plots from miniapp's HDF5 result files.

  miniapp-report scaling RUN.h5|RUN.json ... [--out DIR] [--kind strong|weak] [--model BENCH.json]
                         [--peer LABEL=FILE.csv] [--machine TEXT]
  miniapp-report model BENCH.json --grid NX NY --ranks 1,4,16 --threads 1,4 [--ranks-per-node Q] [--network-bench NET.json]
  miniapp-report show RUN.h5 [--plot FILE.png]
  miniapp-report field RUN.h5 [--snapshot last|all|K] [--field u] [--out DIR]
  miniapp-report results BENCH.json [--study DIR ...] [--date YYYY-MM-DD] [--out PAGE.md]
  miniapp-report study strong|weak [--ranks 1,2,4] [--threads 1,2] [--nodes 1,2] [--input FILE] [--local] ...
"""

import argparse
import sys
from pathlib import Path

from . import model, results_page, scaling, study, summary
from .results import ReportError, load


def integers(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a list like 1,4,16, got '{text}'")
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got '{text}'")
    return values


def network_options(parser):
    parser.add_argument("--network-bench", type=Path, metavar="NET.json",
                        help="the network between hosts as `miniapp bench --network-only --hostfile FILE` measured "
                             "it (default: section 7 of the bench file, if it has one)")
    parser.add_argument("--network-latency", type=float, metavar="US",
                        help="MPI latency between nodes in microseconds (instead of a measured one)")
    parser.add_argument("--network-bandwidth", type=float, metavar="GB/S",
                        help="MPI bandwidth between nodes in GB/s (instead of a measured one)")


def bench_machine(path, args):
    latency = args.network_latency * 1e-6 if args.network_latency is not None else None
    bandwidth = args.network_bandwidth * 1e9 if args.network_bandwidth is not None else None
    if (latency is not None and latency < 0) or (bandwidth is not None and bandwidth <= 0):
        raise ReportError("--network-latency must be >= 0 and --network-bandwidth > 0")
    return model.Machine.from_bench(path, latency, bandwidth, args.network_bench)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="miniapp-report", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("scaling", help="scaling table (text, CSV, Markdown) and plots from several runs")
    p.add_argument("files", nargs="+", type=Path, help="result files (.h5), or the runs' --json summaries (.json)")
    p.add_argument("--out", type=Path, default=Path("report"), help="directory for the table and plots (default: report)")
    p.add_argument("--peer", action="append", default=[], metavar="LABEL=FILE.csv",
                   help="another code's time per step on the same study, drawn beside (columns ranks, threads, "
                        "time_per_step); repeatable")
    p.add_argument("--machine", help="the machine, for the figure's title (default: from the runs' metadata)")
    p.add_argument("--kind", choices=["strong", "weak"], help="default: strong when every run has the same grid")
    p.add_argument("--model", type=Path, metavar="BENCH.json",
                   help="also the performance model's stepping time and efficiency (heat runs), from `miniapp bench` figures")
    network_options(p)

    p = commands.add_parser("model", help="the performance model's prediction of a scaling study (heat problem)")
    p.add_argument("bench", type=Path, help="the JSON of `miniapp bench` on a node of the machine")
    p.add_argument("--grid", type=int, nargs=2, required=True, metavar=("NX", "NY"),
                   help="the grid (weak scaling: the grid of one core)")
    p.add_argument("--ranks", type=integers, required=True, help="ranks, e.g. 1,4,16,64")
    p.add_argument("--threads", type=integers, default=[1], help="threads per rank, e.g. 1,4 (default 1)")
    p.add_argument("--ranks-per-node", type=int, help="default: the bench node's cores / threads")
    p.add_argument("--kind", choices=["strong", "weak"], default="strong")
    p.add_argument("--halo-depth", type=int, default=1, help="scheme.halo_depth (default 1)")
    p.add_argument("--periodic", action="store_true", help="periodic in x and y")
    p.add_argument("--one-machine", action="store_true",
                   help="the nodes are hosts of one machine that share its cores (the test bed of Tests/TestBed/cluster-start)")
    network_options(p)

    p = commands.add_parser("show", help="summary of one run: input, decomposition, timings, diagnostics")
    p.add_argument("file", type=Path)
    p.add_argument("--plot", type=Path, help="also write a PNG of the diagnostics over time")

    p = commands.add_parser("results", help="the dated results page of a machine (Markdown) from `miniapp bench --json`",
                            description="Every figure of a `miniapp bench --json` file as Markdown tables, and the "
                                        "performance model against the runs of scaling studies reported with --model.")
    p.add_argument("bench", type=Path, help="the JSON of `miniapp bench`")
    p.add_argument("--study", type=Path, action="append", default=[], metavar="DIR",
                   help="a report of `scaling --model`, or the directory of a `study` run with "
                        "--model (repeatable)")
    p.add_argument("--date", help="the page's date (default: the bench file's)")
    p.add_argument("--out", type=Path, help="write the page here (default: standard output)")

    p = commands.add_parser("field", help="PNG images of field snapshots")
    p.add_argument("file", type=Path)
    p.add_argument("--snapshot", default="last", help="last (default), all, or an index")
    p.add_argument("--field", default="u", help="field name under /fields (default: u)")
    p.add_argument("--out", type=Path, default=Path("."), help="directory for the images")

    study.add_parser(commands)

    args = parser.parse_args(argv)
    try:
        if args.command == "scaling":
            runs = [load(path) for path in args.files]
            machine = bench_machine(args.model, args) if args.model else None
            peers = [scaling.read_peer(spec) for spec in args.peer]
            kind, table = scaling.rows(runs, args.kind, machine)
            unit = runs[0].work_unit
            args.out.mkdir(parents=True, exist_ok=True)
            text = scaling.as_text(kind, table, unit)
            (args.out / "scaling.txt").write_text(text)
            (args.out / "scaling.csv").write_text(scaling.as_csv(table))
            (args.out / "scaling.md").write_text(scaling.as_markdown(kind, table, unit))
            images = scaling.plot(kind, table, runs, args.out, peers, args.machine)
            print(text, end="")
            print(f"wrote {args.out}/scaling.txt, scaling.csv, scaling.md, " + ", ".join(p.name for p in images))
        elif args.command == "model":
            if min(args.grid) < 1 or args.halo_depth < 1 or (args.ranks_per_node or 1) < 1:
                raise ReportError("--grid, --halo-depth and --ranks-per-node must be positive")
            machine = bench_machine(args.bench, args)
            table = model.study(machine, *args.grid, args.ranks, args.threads, args.ranks_per_node,
                                (args.periodic, args.periodic), args.halo_depth, args.kind, args.one_machine)
            print(model.as_text(table, args.kind), end="")
        elif args.command == "show":
            run = load(args.file)
            print(summary.describe(run), end="")
            if args.plot:
                print(f"wrote {summary.diagnostics_plot(run, args.plot)}")
        elif args.command == "results":
            text = results_page.page(args.bench, args.study, args.date)
            if args.out:
                args.out.write_text(text)
                print(f"wrote {args.out}")
            else:
                print(text, end="")
        elif args.command == "study":
            study.run(args)
        elif args.command == "field":
            run = load(args.file)
            for path in summary.field_images(run, args.out, args.snapshot, args.field):
                print(f"wrote {path}")
    except ReportError as error:
        print(f"miniapp-report: error: {error}", file=sys.stderr)
        return 2
    return 0


def run():
    """The `miniapp-report` entry point of the installed package."""
    sys.exit(main())


if __name__ == "__main__":
    run()
