"""`python -m infer.cases build --records records.csv --out cases.csv`: link a day's parcels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infer.cases.backends import BACKENDS

# Problems printed in full; the rest are counted (all of them go to --problems-out).
SHOWN_PROBLEMS = 20


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="python -m infer.cases", description=__doc__)
    commands = made.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="link parcel records into cases")
    build.add_argument("--records", required=True, help="CSV of parcel records (parcel_id, ...)")
    build.add_argument("--out", required=True, help="cases per parcel: parcel_id,case_id,case_size")
    build.add_argument("--backend", choices=BACKENDS, default="duckdb")
    build.add_argument("--threshold", type=float, default=0.99,
                       help="match probability at which two parcels are one case")
    build.add_argument("--pairs-out", help="also write the scored pairs with match weights")
    build.add_argument("--table-out", help="also write one row per case (cases_table)")
    build.add_argument("--problems-out", help="also write every unreadable value")
    return made


def build(args: argparse.Namespace) -> int:
    import pandas as pd

    from infer.cases.link import link_parcels
    from infer.cases.records import read_records
    from infer.cases.table import cases_table

    records, problems = read_records(args.records)
    result = link_parcels(records, backend=args.backend, threshold=args.threshold, progress=True)
    problems += result.problems
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"{args.records}: {problem}", file=sys.stderr)
    if len(problems) > SHOWN_PROBLEMS:
        print(f"{args.records}: ... {len(problems) - SHOWN_PROBLEMS} more problems",
              file=sys.stderr)
    _write(result.cases, args.out)
    if args.pairs_out:
        _write(result.pairs, args.pairs_out)
    if args.table_out:
        _write(cases_table(result), args.table_out)
    if args.problems_out:
        _write(pd.DataFrame([vars(p) for p in problems],
                            columns=["parcel_id", "column", "value", "problem"]), args.problems_out)
    linked = result.cases[result.cases["case_size"] > 1]
    print(f"{args.out}: {len(result.cases)} parcels in {result.cases['case_id'].nunique()} cases; "
          f"{linked['case_id'].nunique()} cases of 2 or more hold {len(linked)} parcels; "
          f"{len(problems)} unreadable values set to null")
    return 0


def _write(frame, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 < args.threshold < 1:
        parser().error("--threshold must be strictly between 0 and 1")
    try:
        return build(args)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
