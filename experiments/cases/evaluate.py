"""How well a day's parcels are linked into sellers' cases, against the simulated truth.

    python experiments/cases/evaluate.py --day datasets/traffic/day.csv [--scores photo-scores.csv]

Prints and logs to MLflow (experiment `cases`): pairwise and B-cubed precision / recall / F1 of
the cases against the true `seller_id` (each genuine sender is its own seller), liaison
decisions per 1,000 parcels, wall time and peak RSS of the linkage, and with --scores (a CSV of
per-photo `path,logit`) the parcel AUROC of single parcels against case-pooled scores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from infer.cases.link import link_parcels  # noqa: E402
from infer.cases.pooling import case_logits  # noqa: E402

TRUTH = ("label", "seller_id", "brand", "model", "photos")


def pairs_within(groups: pd.Series) -> int:
    sizes = groups.value_counts().to_numpy(dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise(cases: pd.Series, sellers: pd.Series) -> dict:
    """Precision and recall over pairs of parcels put in one case / sent by one seller."""
    both = pairs_within(cases.astype(str) + "\x00" + sellers.astype(str))
    predicted, true = pairs_within(cases), pairs_within(sellers)
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    return {"pairwise_precision": precision, "pairwise_recall": recall,
            "pairwise_f1": _f1(precision, recall)}


def bcubed(cases: pd.Series, sellers: pd.Series) -> dict:
    """B-cubed: per parcel, the share of its case from its seller and of its seller in its case."""
    frame = pd.DataFrame({"case": cases.to_numpy(), "seller": sellers.to_numpy()})
    overlap = frame.groupby(["case", "seller"])["case"].transform("size")
    case_size = frame.groupby("case")["case"].transform("size")
    seller_size = frame.groupby("seller")["seller"].transform("size")
    precision = float((overlap / case_size).mean())
    recall = float((overlap / seller_size).mean())
    return {"bcubed_precision": precision, "bcubed_recall": recall,
            "bcubed_f1": _f1(precision, recall)}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def decisions(joined: pd.DataFrame) -> dict:
    """Liaison decisions: one per case (a singleton is its own case), per 1,000 parcels; and
    for the counterfeit sellers' parcels alone, the cases that hold them."""
    fakes = joined[joined["label"] == "counterfeit"]
    return {
        "decisions_per_1000": 1000 * joined["case_id"].nunique() / len(joined),
        "decisions_per_1000_counterfeit": 1000 * fakes["case_id"].nunique() / max(len(fakes), 1),
    }


def per_seller(joined: pd.DataFrame) -> pd.DataFrame:
    """Each counterfeit seller: parcels, cases they fall in, share in the biggest, its purity."""
    rows = []
    for seller, parcels in joined[joined["label"] == "counterfeit"].groupby("seller_id"):
        counts = parcels["case_id"].value_counts()
        case = joined[joined["case_id"] == counts.index[0]]
        rows.append({"seller_id": seller, "parcels": len(parcels), "cases": len(counts),
                     "in_biggest_case": round(counts.iloc[0] / len(parcels), 4),
                     "biggest_case_purity": round(float((case["seller_id"] == seller).mean()), 4)})
    return pd.DataFrame(rows)


def score_aurocs(joined: pd.DataFrame, scores_path: Path) -> dict:
    """Parcel AUROC of the parcel's own score (mean logit of its photos) and of its case's."""
    from sklearn.metrics import roc_auc_score

    scores = pd.read_csv(scores_path)
    if not {"path", "logit"} <= set(scores.columns):
        raise ValueError(f"{scores_path}: needs path and logit columns, has {list(scores.columns)}")
    logit_of = scores.groupby("path")["logit"].mean()
    photos = joined[["parcel_id", "photos"]].assign(path=joined["photos"].str.split(";"))
    photos = photos.explode("path")
    photos["logit"] = photos["path"].map(logit_of)
    parcel = photos.groupby("parcel_id")["logit"].mean()
    scored = joined[joined["parcel_id"].map(parcel).notna()]
    if scored["label"].nunique() < 2:
        raise ValueError(f"{scores_path}: scores cover no parcels of both classes")
    target = (scored["label"] == "counterfeit").astype(int)
    pooled = case_logits(joined[["parcel_id", "case_id"]], parcel)
    return {
        "scored_parcels": len(scored),
        "auroc_single_parcel": roc_auc_score(target, scored["parcel_id"].map(parcel)),
        "auroc_case_pooled": roc_auc_score(target, scored["parcel_id"].map(pooled)),
    }


def run(args: argparse.Namespace) -> dict:
    day = pd.read_csv(args.day, dtype=str, keep_default_na=False)
    missing = {"parcel_id", "label", "seller_id"} - set(day.columns)
    if missing:
        raise ValueError(f"{args.day}: not a simulated day (no {', '.join(sorted(missing))})")
    records = day.drop(columns=[c for c in TRUTH if c in day.columns])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = link_parcels(records, backend=args.backend, threshold=args.threshold,
                          progress=True)
    wall = time.perf_counter() - start
    joined = result.cases.merge(day, on="parcel_id", validate="one_to_one")
    metrics = {
        "parcels": len(joined), "cases": joined["case_id"].nunique(),
        "true_sellers": joined["seller_id"].nunique(),
        "counterfeit_sellers": joined.loc[joined["label"] == "counterfeit", "seller_id"].nunique(),
        **pairwise(joined["case_id"], joined["seller_id"]),
        **bcubed(joined["case_id"], joined["seller_id"]),
        **decisions(joined),
        "link_wall_s": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_link_mb": rss_before,
        "problems": len(result.problems),
    }
    if args.scores:
        metrics.update(score_aurocs(joined, Path(args.scores)))
    return {"metrics": metrics, "sellers": per_seller(joined), "result": result}


def log_to_mlflow(args: argparse.Namespace, metrics: dict, table: dict, out: Path) -> str:
    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment(args.experiment)
    with mlflow.start_run(run_name=args.run_name) as active:
        mlflow.log_params({"day": args.day, "threshold": args.threshold, "backend": args.backend,
                           "scores": args.scores or "", "machine": platform.node(),
                           "cpus": os.cpu_count()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.log_dict(table, "readme-table.json")
        mlflow.log_artifact(str(out / "sellers.csv"))
        return active.info.run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--day", default="datasets/traffic/day.csv")
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--backend", default="duckdb")
    parser.add_argument("--scores", help="CSV of per-photo scores: path,logit")
    parser.add_argument("--out", default="runs/cases", help="folder for metrics and tables")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--experiment", default="cases")
    parser.add_argument("--run-name", default=None)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args(argv)
    done = run(args)
    metrics = done["metrics"]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done["sellers"].to_csv(out / "sellers.csv", index=False)
    table = {"command": " ".join(["python", "experiments/cases/evaluate.py", *(argv or sys.argv[1:])]),
             "metrics": {k: round(float(v), 4) for k, v in metrics.items()}}
    (out / "metrics.json").write_text(json.dumps(table, indent=2))
    if not args.no_mlflow:
        table["mlflow_run"] = log_to_mlflow(args, metrics, table, out)
    print(done["sellers"].to_string(index=False))
    print(json.dumps(table, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
