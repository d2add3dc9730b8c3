"""miniapp-report: tables and plots from miniapp's HDF5 result files.

  miniapp-report scaling RUN.h5 ... [--out DIR] [--kind strong|weak]
  miniapp-report show RUN.h5 [--plot FILE.png]
  miniapp-report field RUN.h5 [--snapshot last|all|K] [--field u] [--out DIR]
"""

import argparse
import sys
from pathlib import Path

from . import scaling, summary
from .results import ReportError, load


def main(argv=None):
    parser = argparse.ArgumentParser(prog="miniapp-report", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("scaling", help="scaling table (text, CSV, Markdown) and plots from several runs")
    p.add_argument("files", nargs="+", type=Path, help="result files (.h5)")
    p.add_argument("--out", type=Path, default=Path("report"), help="directory for the table and plots (default: report)")
    p.add_argument("--kind", choices=["strong", "weak"], help="default: strong when every run has the same grid")

    p = commands.add_parser("show", help="summary of one run: input, decomposition, timings, diagnostics")
    p.add_argument("file", type=Path)
    p.add_argument("--plot", type=Path, help="also write a PNG of the diagnostics over time")

    p = commands.add_parser("field", help="PNG images of field snapshots")
    p.add_argument("file", type=Path)
    p.add_argument("--snapshot", default="last", help="last (default), all, or an index")
    p.add_argument("--field", default="u", help="field name under /fields (default: u)")
    p.add_argument("--out", type=Path, default=Path("."), help="directory for the images")

    args = parser.parse_args(argv)
    try:
        if args.command == "scaling":
            runs = [load(path) for path in args.files]
            kind, table = scaling.rows(runs, args.kind)
            unit = runs[0].work_unit
            args.out.mkdir(parents=True, exist_ok=True)
            text = scaling.as_text(kind, table, unit)
            (args.out / "scaling.txt").write_text(text)
            (args.out / "scaling.csv").write_text(scaling.as_csv(table))
            (args.out / "scaling.md").write_text(scaling.as_markdown(kind, table, unit))
            images = scaling.plot(kind, table, runs, args.out)
            print(text, end="")
            print(f"wrote {args.out}/scaling.txt, scaling.csv, scaling.md, " + ", ".join(p.name for p in images))
        elif args.command == "show":
            run = load(args.file)
            print(summary.describe(run), end="")
            if args.plot:
                print(f"wrote {summary.diagnostics_plot(run, args.plot)}")
        elif args.command == "field":
            run = load(args.file)
            for path in summary.field_images(run, args.out, args.snapshot, args.field):
                print(f"wrote {path}")
    except ReportError as error:
        print(f"miniapp-report: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
