"""The label checks on the real parcels: how often each one fails on genuine parcels (false
alarms) and on counterfeit ones, from the reader's own output on every photo.

Reads the per-photo output of `evaluate.py` (`photos.json`: each photo's read lines and boxes)
and the truth file (which parcel, which label), parses each photo's fields as serving does and
runs `infer.labels.checks` per parcel.

    python experiments/label-reading/parcel_checks.py runs/label-reading/aj1-legit-check/photos.json \\
        --truth datasets/label-truth/aj1-legit-check.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infer.labels import SURE  # noqa: E402
from infer.labels.checks import FAIL, RULES, ParcelLabels, check_parcel  # noqa: E402
from infer.labels.fields import parse  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photos", type=Path, help="photos.json written by evaluate.py")
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--brand", default="nike")
    args = ap.parse_args(argv)
    truth = {r["file"]: r for r in csv.DictReader(args.truth.open())}
    parcels = defaultdict(list)
    for photo in json.loads(args.photos.read_text()):
        if "lines" in photo:
            row = truth[photo["file"]]
            # As serving does: the checks see the lines read at least SURE.
            confidences = photo.get("confidences") or [1.0] * len(photo["lines"])
            keep = [i for i, c in enumerate(confidences) if c >= SURE]
            boxes = photo.get("boxes")
            fields = parse([photo["lines"][i] for i in keep], brand=args.brand,
                           boxes=[boxes[i] for i in keep] if boxes else None)
            fields.barcode = (photo.get("barcodes") or [None])[0]  # as parcel_evidence
            parcels[(row["parcel_id"], row["label"])].append(fields)
    table = {rule.name: {"genuine": [0, 0], "counterfeit": [0, 0], "unknown": 0} for rule in RULES}
    failures = []
    for (parcel, label), fields in sorted(parcels.items()):
        for outcome in check_parcel(ParcelLabels(fields, brand=args.brand)):
            cell = table[outcome.check]
            if outcome.outcome == "unknown":
                cell["unknown"] += 1
                continue
            cell[label][1] += 1
            if outcome.outcome == FAIL:
                cell[label][0] += 1
                failures.append({"parcel": parcel, "label": label, "check": outcome.check,
                                 "detail": outcome.detail})
    summary = {"parcels": {k: sum(1 for (_, lab) in parcels if lab == k) for k in ("genuine", "counterfeit")},
               "checks": {name: {"failed_on_genuine": f"{c['genuine'][0]} of {c['genuine'][1]}",
                                 "failed_on_counterfeit": f"{c['counterfeit'][0]} of {c['counterfeit'][1]}",
                                 "unknown": c["unknown"]} for name, c in table.items()},
               "failures": failures}
    print(json.dumps(summary, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
