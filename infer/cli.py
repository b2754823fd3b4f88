"""Command line of the inspector: one parcel from photos, or every parcel of a manifest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic"}


def expand(inputs: list[str]) -> list[str]:
    """Files as given; directories contribute their image files, sorted."""
    photos = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            photos += sorted(
                str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        else:
            photos.append(item)
    return photos


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m infer",
        description="Judge a parcel from its photos: counterfeit likelihood, brand, verdict.",
    )
    parser.add_argument("photos", nargs="*", help="photo files or folders of one parcel")
    parser.add_argument("--model", default=None,
                        help="model folder or MLflow URI (default: newest registered version)")
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                        help="onnx: onnxruntime on the package's model.onnx (faster on CPU, and "
                        "starts without importing torch); torch: the network eagerly in PyTorch "
                        "(same scores to 1e-4); auto (default): onnx when the package has the "
                        "graph, else torch")
    parser.add_argument("--shoe-crop", action=argparse.BooleanOptionalAction, default=None,
                        help="also read the brand from a crop around the shoe (default: as the "
                        "model package says; infer/shoe_crop.py)")
    parser.add_argument("--labels", action=argparse.BooleanOptionalAction, default=True,
                        help="read and check the print on the photos: size tag, box label "
                        "(default on; about a second a parcel)")
    parser.add_argument("--dispatch-country", default=None,
                        help="country the parcel was posted from, checked against the labels' "
                        "\"made in\" (a manifest gives it as a `dispatch_country` column)")
    parser.add_argument("--parcel-id", default=None)
    parser.add_argument("--json", action="store_true", help="one compact JSON line")
    parser.add_argument("--manifest", help="judge every parcel of this manifest CSV")
    parser.add_argument("--out", help="with --manifest: JSONL output (resumable)")
    parser.add_argument("--queue", help="review queue SQLite file: queue `review` verdicts "
                        "(and an audit share of the others) for the brand liaison")
    parser.add_argument("--audit-share", type=float, default=0.05,
                        help="with --queue: share of automatic verdicts also queued (default 0.05)")
    args = parser.parse_args(argv)
    if bool(args.manifest) == bool(args.photos):
        parser.error("give photos of one parcel, or --manifest PATH --out FILE.jsonl")
    if args.manifest and not args.out:
        parser.error("--manifest needs --out FILE.jsonl")
    if not 0.0 <= args.audit_share <= 1.0:
        parser.error(f"--audit-share must be within [0, 1], got {args.audit_share}")
    return args


def finished_parcels(out_path: Path) -> set[str]:
    """Parcel ids already written to a JSONL output; cuts off a last line left half-written by
    a crash so the next record starts on a line of its own."""
    if not out_path.exists():
        return set()
    data = out_path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) < len(data):
        with out_path.open("r+b") as f:
            f.truncate(len(complete))
        print(f"{out_path}: dropped a half-written last line; that parcel is judged again",
              file=sys.stderr)
    done = set()
    for line in complete.decode("utf-8", errors="replace").splitlines():
        try:
            done.add(str(json.loads(line)["parcel_id"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    return done


def _parcel_value(group, column: str) -> str | None:
    """A parcel-level manifest column: its first non-empty value among the parcel's rows."""
    if column not in group:
        return None
    values = [str(v).strip() for v in group[column] if isinstance(v, str) and v.strip()]
    return values[0] if values else None


def judge_manifest(inspector, manifest: str, out: str, on_verdict=None) -> int:
    """Judge every parcel of a manifest into a JSONL file, resumably: each record is flushed
    and fsynced before the next parcel, and a rerun skips parcels already written.
    `on_verdict(verdict, photos, group)` also gets the parcel's manifest rows (its record)."""
    import os

    from tqdm.auto import tqdm

    from infer.inspector import NoReadablePhotos
    from infer.manifest import read_manifest

    df = read_manifest(manifest, check_files=False)
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    done = finished_parcels(out_path)
    groups = [(pid, g) for pid, g in df.groupby("parcel_id", sort=False) if str(pid) not in done]
    with out_path.open("a") as sink:
        for pid, group in tqdm(groups, desc="parcels", unit="parcel"):
            try:
                verdict = inspector.inspect(list(group["path"]), parcel_id=str(pid),
                                            dispatch_country=_parcel_value(group, "dispatch_country"))
                record = verdict.to_dict()
                if on_verdict is not None:
                    on_verdict(verdict, list(group["path"]), group)
            except NoReadablePhotos as exc:
                record = {"parcel_id": str(pid), "verdict": None, "error": str(exc),
                          "photos": [p.to_dict() for p in exc.errors]}
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
    print(f"{len(groups)} parcel(s) judged, {len(done)} already in {out_path}", file=sys.stderr)
    return 0


def parcel_record(manifest: str, parcel_id: str, group):
    """The parcel record among a parcel's manifest columns (sender, dispatch time, ...), its
    unreadable values printed naming the manifest, the parcel and the column, and nulled."""
    from infer.review.records import check_record, has_record, manifest_record

    values = manifest_record(group)
    if not has_record(values):
        return None
    checked = check_record(parcel_id, values)
    for problem in checked.problems:
        print(f"{manifest}: {problem}", file=sys.stderr)
    return checked


def main(argv=None) -> int:
    args = parse_args(argv)
    from infer.inspector import Inspector, NoReadablePhotos
    from infer.manifest import ManifestError
    from infer.package import PackageError

    try:
        inspector = Inspector.load(args.model, backend=args.backend, shoe_crop=args.shoe_crop,
                                   labels=args.labels)
    except (LookupError, FileNotFoundError, PackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    on_verdict = None
    if args.queue:
        from infer.review import QueueError, ReviewQueue, enqueue

        try:
            queue = ReviewQueue(args.queue)
        except QueueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

        def on_verdict(verdict, photos, group=None):
            record = None if group is None else parcel_record(args.manifest, verdict.parcel_id, group)
            views = None if group is None else list(group["view"])
            enqueue(queue, verdict, photos, inspector, audit_share=args.audit_share, record=record,
                    views=views)

    if args.manifest:
        try:
            return judge_manifest(inspector, args.manifest, args.out, on_verdict)
        except ManifestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    photos = expand(args.photos)
    try:
        verdict = inspector.inspect(photos, parcel_id=args.parcel_id, dispatch_country=args.dispatch_country)
    except NoReadablePhotos as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if on_verdict is not None:
        on_verdict(verdict, photos, None)
    print(json.dumps(verdict.to_dict(), indent=None if args.json else 2))
    return 0
