"""`python -m infer.cases build --records records.csv --out cases.csv`: link a day's parcels;
`python -m infer.cases build --db review.db`: link the review queue's parcels into its cases;
`python -m infer.cases export CASE --db review.db --out DIR`: a case's evidence pack."""

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
    build.add_argument("--records", help="CSV of parcel records (parcel_id, ...); needs --out")
    build.add_argument("--out", help="with --records: cases per parcel (parcel_id,case_id,case_size)")
    build.add_argument("--db", help="instead of --records: link the parcels of this review queue "
                                    "and store the cases in it")
    build.add_argument("--backend", choices=BACKENDS, default="duckdb")
    build.add_argument("--threshold", type=float, default=0.99,
                       help="match probability at which two parcels are one case")
    build.add_argument("--pairs-out", help="also write the scored pairs with match weights")
    build.add_argument("--table-out", help="also write one row per case (cases_table)")
    build.add_argument("--problems-out", help="also write every unreadable value")
    export = commands.add_parser("export", help="a case's evidence pack: members, linking evidence, "
                                                "photos and label text")
    export.add_argument("case", help="case id, as the review app shows it (C-...)")
    export.add_argument("--db", required=True, help="review queue SQLite file holding the case")
    export.add_argument("--out", required=True, help="folder to create (must not exist, or be empty)")
    return made


def check_args(made: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command != "build":
        return
    if not 0 < args.threshold < 1:
        made.error("--threshold must be strictly between 0 and 1")
    if bool(args.records) == bool(args.db):
        made.error("give --records records.csv --out cases.csv, or --db review.db")
    if args.records and not args.out:
        made.error("--records needs --out cases.csv")
    extra = [f"--{n.replace('_', '-')}" for n in ("out", "pairs_out", "table_out") if getattr(args, n)]
    if args.db and extra:
        made.error(f"{', '.join(extra)} go with --records; --db stores the cases in the queue")


def print_problems(source: str, problems: list) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        print(f"{source}: {problem}", file=sys.stderr)
    if len(problems) > SHOWN_PROBLEMS:
        print(f"{source}: ... {len(problems) - SHOWN_PROBLEMS} more problems", file=sys.stderr)


def build(args: argparse.Namespace) -> int:
    import pandas as pd

    from infer.cases.link import link_parcels
    from infer.cases.records import read_records
    from infer.cases.table import cases_table

    records, problems = read_records(args.records)
    result = link_parcels(records, backend=args.backend, threshold=args.threshold, progress=True)
    problems += result.problems
    print_problems(args.records, problems)
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


def build_db(args: argparse.Namespace) -> int:
    from infer.cases.queue_link import build_queue_cases

    made = build_queue_cases(args.db, backend=args.backend, threshold=args.threshold, progress=True)
    print_problems(args.db, made["problems"])
    if args.problems_out:
        import pandas as pd

        _write(pd.DataFrame([vars(p) for p in made["problems"]],
                            columns=["parcel_id", "column", "value", "problem"]), args.problems_out)
    print(f"{args.db}: {made['parcels']} parcels linked at threshold {args.threshold}; "
          f"{made['cases']} open cases of 2 or more hold {made['linked_parcels']} parcels; "
          f"{made['decided_cases_kept']} decided cases kept; {made['splits_reapplied']} split-out "
          "members kept out")
    return 0


def export(args: argparse.Namespace) -> int:
    from infer.cases.evidence_pack import write_pack

    written = write_pack(args.db, args.case, args.out)
    print(f"{args.out}: evidence pack of case {args.case}: {written['members']} members, "
          f"{written['pairs']} scored pairs, {written['photos']} photos")
    return 0


def _write(frame, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


def main(argv: list[str] | None = None) -> int:
    made = parser()
    args = made.parse_args(argv)
    check_args(made, args)
    db = getattr(args, "db", None)
    if db and not Path(db).is_file():
        # Opening a queue creates it; a mistyped path must not leave an empty queue behind.
        print(f"error: {db}: no review queue database there", file=sys.stderr)
        return 2
    try:
        if args.command == "export":
            return export(args)
        return build_db(args) if db else build(args)
    except (OSError, ValueError, RuntimeError, LookupError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
