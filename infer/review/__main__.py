"""`python -m infer.review enqueue|serve|export|references|band-check`."""

from __future__ import annotations

import argparse
import sys

from infer.cases.records import PARCEL_COLUMNS


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m infer.review",
                                     description="The brand liaison's review queue.")
    sub = parser.add_subparsers(dest="command", required=True)
    enqueue = sub.add_parser("enqueue", help="judge a manifest's parcels and queue them, with their "
                             "parcel records (sender, dispatch time, ...) for case linking")
    enqueue.add_argument("--db", required=True, help="review queue SQLite file (created if missing)")
    enqueue.add_argument("--manifest", required=True,
                         help="photo manifest; optional parcel columns: " + ", ".join(PARCEL_COLUMNS))
    enqueue.add_argument("--out", default=None,
                         help="verdicts JSONL, which makes a rerun resume (default: <db>.verdicts.jsonl)")
    enqueue.add_argument("--model", default=None, help="model folder or MLflow URI")
    enqueue.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    enqueue.add_argument("--audit-share", default="0.05",
                         help="share of automatic verdicts also queued (default 0.05)")
    enqueue.add_argument("--labels", action=argparse.BooleanOptionalAction, default=True,
                         help="read and check the print on the photos (default on)")
    serve = sub.add_parser("serve", help="serve the review pages and API")
    serve.add_argument("--db", required=True, help="review queue SQLite file")
    serve.add_argument("--host", default="127.0.0.1",
                       help="bind address (default 127.0.0.1; any other needs --token)")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--token", default=None,
                       help="shared secret every request must carry, at least 16 characters, or "
                            "'auto' to generate one (required off loopback)")
    export = sub.add_parser("export", help="decided parcels as a training manifest")
    export.add_argument("--db", required=True)
    export.add_argument("--out", required=True, help="manifest CSV; photos go to <stem>_photos/")
    refs = sub.add_parser("references", help="build the genuine reference library from labelled listings")
    refs.add_argument("--db", required=True)
    refs.add_argument("--manifest", action="append", required=True,
                      help="labelled manifest (its genuine photos are used); repeat for several")
    refs.add_argument("--model", default=None,
                      help="the model whose embeddings are used: the one that judges the queued parcels "
                           "(default: the newest registered counterfeit-inspector)")
    refs.add_argument("--per-group", type=int, default=12, help="photos kept per brand, model and view")
    check = sub.add_parser("band-check", help="is the review band holding? (from the audit sample)")
    check.add_argument("--db", required=True)
    check.add_argument("--target-error", type=float, default=0.02)
    check.add_argument("--delta", type=float, default=0.1)
    return parser.parse_args(argv)


def enqueue_argv(args) -> list[str]:
    """`python -m infer` does the judging; this names the queue's side of it."""
    out = args.out or f"{args.db}.verdicts.jsonl"
    argv = ["--manifest", args.manifest, "--out", out, "--queue", args.db,
            "--audit-share", args.audit_share, "--backend", args.backend,
            "--labels" if args.labels else "--no-labels"]
    return argv + (["--model", args.model] if args.model else [])


def main(argv=None) -> int:
    args = parse_args(argv)
    from pathlib import Path

    if args.command == "enqueue":
        from infer.cli import main as inspect_main

        return inspect_main(enqueue_argv(args))

    from infer.review.queue import QueueError, ReviewQueue

    if not Path(args.db).is_file():
        print(f"error: {args.db}: no review queue database there", file=sys.stderr)
        return 2
    try:
        if args.command == "export":
            from infer.review.export import export_manifest

            counts = export_manifest(args.db, args.out)
            print(f"{args.out}: {counts['photos']} photo(s) of {counts['parcels']} parcel(s); "
                  f"{counts['cannot_tell']} cannot_tell parcel(s) left out", file=sys.stderr)
            return 0
        if args.command == "references":
            from infer.inspector import Inspector
            from infer.review.references import build_references

            inspector = Inspector.load(args.model, backend="auto", labels=False)
            counts = build_references(args.db, inspector, args.manifest, args.per_group)
            print(f"{args.db}: {counts['references']} genuine reference photo(s) in {counts['groups']} "
                  f"brand/model/view group(s) for model run {counts['model_run_id']}", file=sys.stderr)
            return 0
        if args.command == "band-check":
            import json

            from infer.review.monitor import band_check

            report = band_check(ReviewQueue(args.db), args.target_error, args.delta)
            print(json.dumps(report, indent=2))
            # Non-zero when some model's band is shown broken, so a scheduled check can alert.
            return 1 if any(m["status"] == "breached" for m in report["models"]) else 0
        import uvicorn

        from infer.review.app import create_app
        from infer.review.security import new_token

        token = new_token() if args.token == "auto" else args.token
        app = create_app(args.db, token=token, host=args.host)
    except (QueueError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown = "[::1]" if args.host == "::1" else args.host
    url = f"http://{shown}:{args.port}/"
    print(f"review queue {args.db} at {url}" + (f"?token={token}" if token else ""), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")  # info: one line per request
    return 0


if __name__ == "__main__":
    sys.exit(main())
