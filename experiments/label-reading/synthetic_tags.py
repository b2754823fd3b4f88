"""The label reader on fresh synthetic size tags, where the generator says what each tag prints.

Generates parcels photographed in the size-tag view only (`train.synthetic`, `views=("label",)`,
seeds the default set never uses), reads every tag (`infer.labels`) and scores the "made in"
field against the tag's own print (the manifest's `printed` column: the wordmark, then the
"made in" line, misspellings included). Tags whose printed line names no country (a misspelt
one) are counted apart: there the right reading is "no country", and it is scored as such.

    python experiments/label-reading/synthetic_tags.py --parcels 500 --out runs/label-reading/synthetic-tags
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pandas as pd  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from infer.labels.fields import MADE_IN, country, parse  # noqa: E402
from infer.labels.reader import engine, read_photo  # noqa: E402
from infer.photos import load_photo  # noqa: E402
from train.synthetic import generate_dataset  # noqa: E402

SEED = 7000  # the default set uses seed 0 and the tests small seeds


def truth_country(printed: str) -> str | None:
    """The country the tag's "made in" line prints, or None for a misspelt one."""
    lines = str(printed).split(";")
    match = MADE_IN.search(lines[-1].upper()) if lines else None
    return country(match.group(1)) if match else None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parcels", type=int, default=500)
    ap.add_argument("--image-size", type=int, default=640, help="pixels of a tag photo's longer side")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    manifest = generate_dataset(args.out / "tags", n_parcels=args.parcels, seed=args.seed,
                                image_size=args.image_size, views=("label",))
    rows = pd.read_csv(manifest)
    engine()
    records, times = [], []
    for row in tqdm(list(rows.itertuples()), desc="read tags", unit="tag"):
        photo = load_photo(manifest.parent / row.path)
        start = time.perf_counter()
        text = read_photo(photo)
        times.append(time.perf_counter() - start)
        got = parse(text.texts(), boxes=[line.box for line in text.lines]).made_in
        want = truth_country(row.printed)
        records.append({"path": row.path, "label": row.label, "printed": row.printed, "lines": text.texts(),
                        "truth": want, "read": got, "ok": got == want})
    table = pd.DataFrame(records)
    spelt = table[table["truth"].notna()]
    summary = {
        "tags": len(table),
        "made_in_exact_match": round(float(table["ok"].mean()), 4),
        "made_in_exact_match_where_a_country_is_printed": round(float(spelt["ok"].mean()), 4),
        "tags_with_a_country_printed": len(spelt),
        "seconds_per_tag_p50": round(sorted(times)[len(times) // 2], 3),
        "image_size": args.image_size,
        "seed": args.seed,
    }
    table.to_csv(args.out / "tags.csv", index=False)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
