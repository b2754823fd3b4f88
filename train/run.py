"""`python -m train`: data -> split -> fine-tune -> calibrate -> evaluate -> log -> register.

Reads top to bottom; each step is a call into a small module. With `data.folds=K` the same
fit-and-evaluate step runs once per fold, as child runs of one MLflow parent run.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from timm.utils import ModelEmaV3
from torch.nn.parallel import DistributedDataParallel

from infer.model import InspectorNet, create_inspector_net, expected_views, predict_arrays
from infer.ood import FeatureDensity
from infer.package import save_package
from infer.preprocess import downscale
from train import checkpoint, distributed, tracking
from train.augment import build_augment
from train.broken import check_unreadable, unreadable_table
from train.calibrate import (
    DEFAULT_POOLING,
    Calibration,
    band_metrics,
    calibrate,
    score_split,
    score_with,
)
from train.config import Config, dump_yaml, flatten, to_dict
from train.copies import copies_of_held_out, copy_pairs, merge_groups
from train.cv import summarize_folds
from train.data import (
    PhotoDataset,
    Source,
    assign_folds,
    assign_splits,
    brand_class_weights,
    cap_parcels,
    decode_all,
    defect_vocabulary,
    load_sources,
    parse_source,
    photo_targets,
    printed_vocabulary,
    sample_weights,
    thin_training,
    trains_brand,
)
from train.engine import (
    build_optimizer,
    freeze_early_stages,
    train_one_epoch,
    warmup_cosine,
)
from train.loader import build_train_loader
from train.metrics import recall_by_view_and_defect, summarize
from train.plots import evaluation_figures
from train.shoe_crop_eval import brand_logits_with_shoe_crop
from train.synthetic_data import ensure_closeups, ensure_synthetic
from train.warm_start import init_from

OOD_FIT_PHOTOS = 3000  # enough for a 32-direction summary; more only costs inference time
OOD_QUANTILE = 0.99  # 1% of in-distribution validation photos flagged


@dataclass
class RunResult:
    run_id: str
    model_uri: str | None
    registered: dict
    test_metrics: dict
    output_dir: Path


@dataclass
class Fitted:
    net: InspectorNet
    calibration: Calibration
    ood: FeatureDensity | None
    test: dict
    photos: pd.DataFrame  # test photos with calibrated logits
    parcels: pd.DataFrame


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rows(manifest: Path) -> int:
    with manifest.open() as f:
        return sum(1 for _ in f) - 1


def gather_sources(cfg: Config) -> tuple[list[Source], Path | None]:
    sources, synthetic_dir = [], None
    if cfg.data.synthetic.enabled:
        manifest = ensure_synthetic(cfg.data.synthetic)
        synthetic_dir = manifest.parent
        sources.append(Source(manifest, cfg.data.synthetic.weight))
        closeups = ensure_closeups(cfg.data.synthetic)
        if closeups is not None:
            # Its share of the draws against the main set is its photos over the main set's
            # photos (validation and test included: the split comes later), so at a 70% training
            # split a close-up photo is drawn about 0.7 times as often as a main training photo.
            share = _rows(closeups) / _rows(manifest)
            sources.append(Source(closeups, cfg.data.synthetic.weight * share, role="train"))
    sources += [parse_source(entry) for entry in cfg.data.manifests]
    sources += [parse_source(entry, role="val") for entry in cfg.data.val_manifests]
    sources += [parse_source(entry, role="test") for entry in cfg.data.test_manifests]
    return sources, synthetic_dir


def find_copies(table: pd.DataFrame, images: np.ndarray, threshold: float, out: Path | None) -> list:
    """Copies across parcels (train/copies.py): their split groups merged in `table`, the pairs
    written to `out/copies.csv` for a person to check (by one process only)."""
    if not threshold:
        return []
    pairs = copy_pairs(images, table["split_group"].to_numpy(), table["readable"].to_numpy(), threshold)
    if pairs:
        table["split_group"] = merge_groups(table["split_group"], pairs)
    if pairs and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            [{"path_a": table["path"].iat[i], "path_b": table["path"].iat[j], "correlation": round(c, 5),
              "parcel_a": table["parcel_id"].iat[i], "parcel_b": table["parcel_id"].iat[j]}
             for i, j, c in pairs]
        ).to_csv(out / "copies.csv", index=False)
        print(f"{len(pairs)} pair(s) of photos filed under two parcels: those parcels stay on one side of "
              f"every split ({out / 'copies.csv'})")
    return pairs


def make_splits(cfg: Config, table: pd.DataFrame, split: pd.Series) -> dict[str, pd.DataFrame]:
    splits = {}
    for name in ("train", "val", "test"):
        part = table[split == name]
        splits[name] = cap_parcels(part, cfg.data.max_parcels, cfg.data.split_seed)
    for column in ("parcel_id", "split_group"):  # a group holds parcels: both must stay whole
        seen: set[str] = set()
        for part in splits.values():
            ids = set(part[column])
            if seen & ids:
                raise AssertionError(f"{column}(s) in two splits: {sorted(seen & ids)[:5]}")
            seen |= ids
    return splits


def data_summary(splits: dict[str, pd.DataFrame], brands: list[str], sources: list[Source]) -> dict:
    summary = {
        name: {
            "photos": int(len(df)),
            "parcels": int(df["parcel_id"].nunique()),
            "counterfeit_parcels": int((df.groupby("parcel_id")["target"].max() == 1).sum()),
            "unreadable": int((~df["readable"]).sum()),
            "by_source": {k: int(v) for k, v in df["source"].value_counts().sort_index().items()},
        }
        for name, df in splits.items()
    }
    summary["brands"] = brands
    summary["sources"] = [str(s.manifest) + "".join(f"?{c}{op}{v}" for c, op, v in s.filters)
                          for s in sources]
    return summary


HOLDOUT_COLUMNS = ("path", "label", "brand", "parcel_id", "view", "defects", "visible_defects", "kind")


def write_holdout(test: pd.DataFrame, folder: Path) -> None:
    """The test split as manifests, one per source (absolute paths): what the model never saw,
    ready for `python -m train.evaluate --manifest`."""
    for name, part in test.groupby("source_name"):
        folder.mkdir(parents=True, exist_ok=True)
        columns = [c for c in HOLDOUT_COLUMNS if c in part and (part[c].astype(str) != "").any()]
        part[columns].fillna("").to_csv(folder / f"{name}.csv", index=False)


def write_split(table: pd.DataFrame, assignment: pd.Series, path: Path) -> None:
    """Every photo with the split it landed in. A later run that warm-starts this one's recipe
    must leave out its validation and test photos (experiments/real-photos/training_rows.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "path": table["path"].to_numpy(), "source": table["source_name"].to_numpy(),
        "parcel_id": table["parcel_id"].to_numpy(), "split": assignment.to_numpy(),
    }).to_csv(path, index=False)


def serving_example(splits: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Two readable photos of one held-out parcel, as the pyfunc's input example."""
    for name in ("test", "val", "train"):
        readable = splits[name][splits[name]["readable"]]
        if len(readable):
            pid = readable["parcel_id"].iloc[0]
            paths = list(readable.loc[readable["parcel_id"] == pid, "path"])[:2]
            return tracking.input_example(paths, parcel_id="example-parcel")
    return None


def fit_and_evaluate(cfg, splits, images, brands, out: Path, ctx=None, resume=None,
                     run_id=None) -> Fitted:
    """Fine-tune on `train`, pick the epoch, pooling and temperatures on `val`, score `test`.

    `ctx`: the distributed context (one process when None); `resume`: a loaded checkpoint to
    continue from; `run_id`: stored in the checkpoints (None: write no checkpoints)."""
    ctx = ctx or distributed.Context()
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.train.seed)
    size = cfg.data.image_size
    train_all = splits["train"]
    keep = train_all["readable"].to_numpy()
    train_df = train_all[keep].reset_index(drop=True)
    train_df["train_target"] = photo_targets(train_df, cfg.train.photo_targets)
    train_df["brand"] = train_df["brand"].where(trains_brand(train_df, cfg.data.brand_sources), "")
    train_images = images[train_all.index.to_numpy()[keep]]

    def split_images(name: str) -> np.ndarray:
        return images[splits[name].index.to_numpy()]

    # Model and optimisation.
    defects = defect_vocabulary(train_df) if cfg.train.defect_loss_weight > 0 else []
    printed = printed_vocabulary(train_df) if cfg.train.read_loss_weight > 0 else []
    if cfg.train.read_loss_weight > 0 and not printed:
        raise ValueError("train.read_loss_weight > 0 but no training source says what its photos' "
                         "print reads (a `printed` column, written by the synthetic generator)")
    net = create_inspector_net(
        cfg.model.name, brands, cfg.model.weights, size, cfg.model.dropout, cfg.model.tta, defects,
        cfg.model.cf_pool, cfg.model.brand_pool, printed, cfg.data.detail_size,
    )
    net.spec.shoe_crop = cfg.model.shoe_crop
    if cfg.model.init:
        report = init_from(net, cfg.model.init)
        print(f"initialised {report['loaded']} tensors from {report['source']}; fresh: {report['fresh']}")
        tracking.log_json(report, "init.json")
    freeze_early_stages(net, cfg.train.freeze_stages)
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    net = net.to(ctx.device)
    detail = (size, cfg.train.detail_crop_p) if cfg.data.detail_size else None
    augment = build_augment(cfg.train.augment, cfg.train.hflip, detail=detail)
    # Zooming out and new surfaces are for reading brands off small shoes in street scenes;
    # counterfeit photos keep their detail and their own background.
    zoomed = (build_augment(cfg.train.augment, cfg.train.hflip, cfg.train.zoom_out, detail, cfg.train.paste)
              if cfg.train.zoom_out or cfg.train.paste else None)
    dataset = PhotoDataset(train_images, train_df, brands, augment, defects=defects, brand_only_augment=zoomed,
                           printed=printed)
    loader = build_train_loader(cfg, dataset, train_df, ctx)
    class_weights = None
    if cfg.train.brand_balance:
        class_weights = brand_class_weights(train_df, brands, sample_weights(train_df).numpy())
        tracking.log_json(dict(zip(brands, class_weights.tolist(), strict=True)), "brand_class_weights.json")
    steps_per_epoch = len(loader)
    if cfg.train.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.train.max_steps_per_epoch)
    optimizer = build_optimizer(
        net, cfg.train.lr, cfg.train.backbone_lr_scale, cfg.train.weight_decay, cfg.train.layer_decay
    )
    scheduler = warmup_cosine(
        optimizer, cfg.train.epochs * steps_per_epoch, int(cfg.train.warmup_epochs * steps_per_epoch)
    )
    val = splits["val"]
    if ctx.active:
        model = DistributedDataParallel(net, device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None)
    else:
        model = net
    # With train.ema_decay, an exponential moving average of the weights (timm's ModelEmaV3, its
    # decay warmed up so that a run of a few hundred steps averages over its later part) is what
    # validation scores, the best epoch keeps and the package ships; `scored` is that network.
    ema = (ModelEmaV3(net, decay=cfg.train.ema_decay, use_warmup=True, warmup_power=0.75)
           if cfg.train.ema_decay else None)
    scored = ema.module if ema is not None else net

    def predict(arrays: np.ndarray, desc: str, features: bool = False):
        """Raw outputs for photos, each rank scoring a share (plus pooled features, which the
        OOD density reuses)."""
        distributed.sync_buffers(scored, ctx)
        return distributed.gather_rows(ctx, len(arrays), lambda idx: predict_arrays(
            scored, arrays[idx], cfg.train.batch_size * 2, cfg.train.channels_last,
            progress=desc if ctx.main else None, features=features))

    def infer_split(name: str, features: bool = False):
        return predict(split_images(name), name, features)

    # Fine-tune; keep the epoch with the best validation parcel AUROC (the last without val).
    best = (-np.inf, None, -1)
    best_val = None  # the best epoch's validation outputs, reused by calibration (same weights)
    start_epoch = 0
    if resume is not None:
        net.load_state_dict(resume["model"])
        if ema is not None:
            ema.module.load_state_dict(resume["ema"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        checkpoint.set_rng_state(resume["rng"])
        start_epoch = resume["epoch"] + 1
        best_state = checkpoint.load(checkpoint.folder(cfg.output_dir) / checkpoint.BEST)["model"]
        best = (resume["best_score"], best_state, resume["best_epoch"])
        print(f"resumed after epoch {start_epoch} of {cfg.train.epochs} (best so far: epoch "
              f"{best[2] + 1})")
    for epoch in range(start_epoch, cfg.train.epochs):
        t0 = time.time()
        distributed.seed_epoch(cfg.train.seed, epoch, ctx, loader)
        losses = train_one_epoch(
            model, loader, optimizer, scheduler,
            brand_weight=cfg.train.brand_loss_weight,
            defect_weight=cfg.train.defect_loss_weight, read_weight=cfg.train.read_loss_weight,
            brand_class_weights=class_weights,
            ema=ema,
            mixup=cfg.train.mixup,
            channels_last=cfg.train.channels_last,
            max_steps=cfg.train.max_steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
        )
        losses["lr"] = optimizer.param_groups[0]["lr"]
        losses["epoch_seconds"] = time.time() - t0
        tracking.log_metrics(losses, "train", step=epoch)
        line = f"epoch {epoch + 1}: loss {losses['loss']:.4f} ({losses['epoch_seconds']:.0f}s)"
        score = float(epoch)
        val_out = infer_split("val", features=True) if len(val) else None
        if val_out is not None:
            v = summarize(*score_split(val, val_out[:2], brands, DEFAULT_POOLING))
            tracking.log_metrics(
                {k: v[k] for k in ("photo_auroc", "parcel_auroc", "brand_accuracy", "ece")}, "val", step=epoch
            )
            if v["parcel_auroc"] is not None:
                score = v["parcel_auroc"] + 1e-3 * (v["brand_accuracy"] or 0.0)
            else:  # brand-only data
                score = v["brand_accuracy"] if v["brand_accuracy"] is not None else -losses["loss"]
            line += f"  val parcel AUROC {v['parcel_auroc']}  val brand acc {v['brand_accuracy']}"
        if ctx.main:
            print(line)
        if score > best[0]:
            best = (score, {k: t.detach().clone() for k, t in scored.state_dict().items()}, epoch)
            best_val = val_out
            if run_id is not None and ctx.main:
                checkpoint.save_atomic({"epoch": epoch, "score": score, "model": best[1]},
                                       checkpoint.folder(cfg.output_dir) / checkpoint.BEST)
        if run_id is not None and ctx.main:
            checkpoint.save_atomic({
                "epoch": epoch, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                "ema": None if ema is None else ema.module.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": checkpoint.rng_state(),
                "best_score": best[0], "best_epoch": best[2], "run_id": run_id,
                "config": checkpoint.config_fingerprint(cfg), "world_size": ctx.world,
            }, checkpoint.folder(cfg.output_dir) / checkpoint.LAST)
    net.load_state_dict(best[1])
    scored = net  # noqa: F841 -- read by predict(): from here on the kept weights are in `net`
    tracking.log_metrics({"best_epoch": best[2]}, "train")

    # Calibrate on validation parcels: pooling, temperatures, parcel recalibration, review band.
    cal = Calibration.fixed(cfg)
    if len(val):
        *val_outputs, val_features = best_val if best_val is not None else infer_split("val", features=True)
        cal, val_parcels = calibrate(cfg, val, val_outputs, brands)
        if ctx.main:
            # The band is a policy: `python -m train.band` re-chooses it for other targets from this.
            val_parcels.to_csv(out / "val_parcels.csv", index=False)
    tracking.log_params({"calibration.pooling": cal.pooling})

    # Out-of-distribution scores: training photos' features, threshold on validation photos.
    ood = None
    if len(val) and len(train_images) >= 3:
        rng = np.random.default_rng(cfg.train.seed)
        # The budget is forward passes: with detail views each photo costs `views` of them.
        fit = OOD_FIT_PHOTOS // expected_views(scored.spec, train_images.shape[1:3])
        pick = np.sort(rng.choice(len(train_images), min(fit, len(train_images)), replace=False))
        train_features = predict(train_images[pick], "features", features=True)[2]
        ood = FeatureDensity.fit(train_features)
        ood.set_threshold(val_features[val["readable"].to_numpy()], OOD_QUANTILE)
        tracking.log_metrics({"threshold": ood.threshold, "fit_photos": len(pick)}, "ood")

    # Test on held-out parcels.
    test, photos, parcels = {}, pd.DataFrame(), pd.DataFrame()
    if len(splits["test"]):
        *test_outputs, test_features = infer_split("test", features=True)
        whole_brand = None
        if scored.spec.shoe_crop and brands:
            # The package reads the brand from the whole photo and a crop around the shoe: test
            # it that way, and log what the whole photo alone reads beside it.
            whole_brand = summarize(*score_with(splits["test"], test_outputs, brands, cal)).get("brand_accuracy")
            crop_logits, n_cropped = brand_logits_with_shoe_crop(scored, splits["test"], test_outputs[1],
                                                                 cal.brand_temp, cfg.train.batch_size * 2)
            test_outputs = [test_outputs[0], crop_logits]
        photos, parcels = score_with(splits["test"], test_outputs, brands, cal)
        test = summarize(photos, parcels) | band_metrics(parcels, cal.thresholds)
        if whole_brand is not None:
            test["brand_accuracy_whole"] = whole_brand
            test["shoe_crop_share"] = n_cropped / max(1, int(splits["test"]["readable"].sum()))
        ok = splits["test"]["readable"].to_numpy()
        if ood is not None and ok.any():
            test["ood_flag_rate"] = float((ood.score(test_features[ok]) > ood.threshold).mean())
        if net.spec.tta == "none" and cfg.train.hflip:
            # What mirrored-photo averaging would add, measured on the same test photos. Only for
            # models trained on mirrored photos: for the others (synthetic sets, where mirrored
            # label text is a cue) a mirrored photo is out of distribution and the number says
            # nothing, while it costs a second pass over the test photos.
            net.spec.tta = "hflip"
            flipped = summarize(*score_split(
                splits["test"], infer_split("test"), brands, cal.pooling, cal.cf_temp, cal.brand_temp))
            net.spec.tta = "none"
            test["photo_auroc_hflip_tta"] = flipped["photo_auroc"]
            test["parcel_auroc_hflip_tta"] = flipped["parcel_auroc"]
        if scored.spec.detail_size:
            # What the detail views add: the same network on the whole photo alone (its view 0),
            # so that crops are not credited with what the training alone did.
            detail, scored.spec.detail_size = scored.spec.detail_size, 0
            whole = summarize(*score_split(
                splits["test"], predict(downscale(split_images("test"), size), "test-whole"),
                brands, cal.pooling, cal.cf_temp, cal.brand_temp))
            scored.spec.detail_size = detail
            for key in ("photo_auroc", "parcel_auroc", "brand_accuracy"):
                test[f"{key}_whole"] = whole.get(key)
        tracking.log_metrics(test, "test")
        table = recall_by_view_and_defect(photos)
        tracking.log_table(table, "recall_by_view_defect")
        if ctx.main:
            tracking.log_figures(evaluation_figures(photos, parcels, brands, table), "evaluation")
            photos.drop(columns=["readable"]).to_csv(out / "test_photos.csv", index=False)
            parcels.to_csv(out / "test_parcels.csv", index=False)
            if not table.empty:
                table.to_csv(out / "recall_by_view_defect.csv", float_format="%.4f")
    return Fitted(net, cal, ood, test, photos, parcels)


def finished_fold(fold_dir: Path, test: dict) -> Fitted:
    """A fold an earlier attempt of this run finished: its test metrics and tables, no model."""
    tables = []
    for name in ("test_photos.csv", "test_parcels.csv"):
        path = fold_dir / name
        if not path.is_file():
            raise checkpoint.ResumeError(f"{path}: missing, but {checkpoint.CV_STATE} says the fold "
                                         "finished; start a new output_dir")
        tables.append(pd.read_csv(path))
    return Fitted(None, None, None, test, *tables)


def run(cfg: Config) -> RunResult:
    ctx = distributed.init()
    try:
        return _run(cfg, ctx)
    finally:
        distributed.shutdown(ctx)


def _run(cfg: Config, ctx: distributed.Context) -> RunResult:
    started = time.time()
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: autotune each conv once
    tracking.set_enabled(ctx.main and cfg.tracking.enabled)
    if tracking.is_enabled() and not cfg.tracking.offline_fallback:
        tracking.check_reachable()  # before minutes of decoding, not after
    out = Path(cfg.output_dir)
    resume_path = checkpoint.locate(cfg)
    resume = cv_state = None
    if resume_path is not None:
        if cfg.data.folds:
            cv_state = checkpoint.load_cv_state(resume_path)
            checkpoint.check_same_config(cv_state, cfg, resume_path)
        else:
            resume = checkpoint.load(resume_path)
            checkpoint.check_same_config(resume, cfg, resume_path)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_yaml(cfg))

    # 1. Data: sources, photos decoded once, folds by parcel. Rank 0 generates the synthetic
    # set first; the others find it made.
    if ctx.active and not ctx.main:
        torch.distributed.barrier()
    sources, synthetic_dir = gather_sources(cfg)
    if ctx.active and ctx.main:
        torch.distributed.barrier()
    table = load_sources(sources)
    images, errors = decode_all(list(table["path"]), cfg.data.detail_size or cfg.data.image_size,
                                desc="decode photos")
    table["readable"] = [e is None for e in errors]
    unreadable = unreadable_table(list(table["path"]), errors)
    check_unreadable(unreadable, len(table), cfg.data.max_broken_share, out)
    copies = find_copies(table, images, cfg.data.copy_threshold, out if ctx.main else None)
    brand_rows = trains_brand(table, cfg.data.brand_sources, strict=True) & (table["role"] != "test")
    brands = sorted(table.loc[brand_rows, "brand"].unique())
    eval_rows = table["role"] == "any"
    if cfg.data.eval_sources:
        eval_rows &= table["source_name"].isin(cfg.data.eval_sources)
    folds = assign_folds(table[eval_rows], cfg.data.folds, cfg.data.split_seed) if cfg.data.folds else None
    if folds is not None:
        digest = checkpoint.folds_digest(table.loc[eval_rows, "path"], folds)
        if cv_state is not None:
            checkpoint.check_same_folds(cv_state, digest, resume_path)
    continued = resume or cv_state

    with tracking.start(cfg.tracking.experiment, cfg.tracking.run_name,
                        run_id=continued["run_id"] if continued else None,
                        offline_fallback=cfg.tracking.offline_fallback,
                        delivery_timeout_s=cfg.tracking.delivery_timeout_s,
                        outbox_dir=out / "mlflow-outbox") as active:
        run_id = active.info.run_id
        if continued is None:
            tracking.log_params(flatten(to_dict(cfg)))
            tracking.log_text(dump_yaml(cfg), "config/config.yaml")
            if synthetic_dir and (synthetic_dir / "preview.png").is_file() and cfg.tracking.preview_images:
                tracking.log_artifact(synthetic_dir / "preview.png", "data")
            tracking.log_metrics({"unreadable_photos": len(unreadable),
                                  "unreadable_share": len(unreadable) / max(1, len(table)),
                                  "copy_pairs": len(copies)}, "data")
            if copies:
                tracking.log_artifact(out / "copies.csv", "data")
            if not unreadable.empty:
                tracking.log_artifact(out / "unreadable_photos.csv", "data")
        else:
            print(f"resuming MLflow run {run_id} from {resume_path}")

        def split_for(fold):
            assignment = assign_splits(
                table, cfg.data.eval_sources, cfg.data.val_fraction, cfg.data.test_fraction,
                cfg.data.split_seed, fold=fold,
            )
            assignment.iloc[copies_of_held_out(assignment, copies)] = "copy of a held-out photo"
            assignment = thin_training(table, assignment, cfg.data.train_fraction, cfg.data.split_seed)
            if ctx.main:
                write_split(table, assignment, out / ("split.csv" if fold is None else f"fold-{fold[1]}/split.csv"))
            splits = make_splits(cfg, table, assignment)
            tracking.log_json(data_summary(splits, brands, sources), "data/summary.json")
            return splits

        if folds is not None:
            # 2a. Cross-validation: one child run per fold, mean and spread on the parent. After
            # each fold the state file says it is done, so a resumed run skips it.
            state_path = out / checkpoint.CV_STATE
            state = cv_state or checkpoint.new_cv_state(cfg, run_id, digest)
            if state.get("running"):
                tracking.end_left_open(state["running"].get("child_run_id"))
            results = []
            for k in range(cfg.data.run_folds or cfg.data.folds):
                if str(k) in state["finished"]:
                    results.append(finished_fold(out / f"fold-{k}", state["finished"][str(k)]))
                    print(f"fold {k}: kept from {state_path}: " + json.dumps(
                        {m: results[-1].test.get(m) for m in ("photo_auroc", "parcel_auroc", "brand_accuracy")}))
                    continue
                with tracking.child_run(f"fold-{k}") as child:
                    if ctx.main:
                        state["running"] = {"fold": k, "child_run_id": child.info.run_id}
                        checkpoint.save_cv_state(state, state_path)
                    tracking.log_params({"fold": k, "folds": cfg.data.folds})
                    fitted = fit_and_evaluate(cfg, split_for((folds, k)), images, brands,
                                              out / f"fold-{k}", ctx)
                    results.append(fitted)
                    print(f"fold {k}: " + json.dumps({m: fitted.test.get(m) for m in
                          ("photo_auroc", "parcel_auroc", "brand_accuracy")}))
                if ctx.main:
                    state["finished"][str(k)] = fitted.test
                    state["running"] = None
                    checkpoint.save_cv_state(state, state_path)
            summary, figures = summarize_folds([r.test for r in results],
                                               [r.photos for r in results], [r.parcels for r in results])
            tracking.log_metrics(summary["metrics"], "cv")
            tracking.log_json(summary, "cv/summary.json")
            tracking.log_figures(figures, "cv")
            if ctx.main:
                (out / "cv_summary.json").write_text(json.dumps(summary, indent=2))
            test, registered = summary["metrics"], {"model_uri": None, "name": None, "version": None}
        else:
            # 2b. One split: fit, evaluate, then package, log and register the model.
            splits = split_for(None)
            fitted = fit_and_evaluate(cfg, splits, images, brands, out, ctx, resume,
                                      run_id=run_id or "unlogged")
            test = fitted.test
            registered = {"model_uri": None, "name": None, "version": None}
            if ctx.main:
                write_holdout(splits["test"], out / "holdout")
                cal = fitted.calibration
                meta = {
                    "pooling": cal.pooling,
                    "temperature": {"counterfeit": cal.cf_temp, "brand": cal.brand_temp},
                    "parcel_calibration": cal.parcel.to_dict(),
                    "band": cal.band.to_dict() if cal.band else None,
                    "thresholds": cal.thresholds.__dict__,
                    "model": {"name": cfg.tracking.register_as or None, "run_id": run_id},
                    "test_metrics": test,
                }
                net = fitted.net.to("cpu", memory_format=torch.contiguous_format)
                package_dir = save_package(out / "model", net, meta, fitted.ood,
                                           onnx=cfg.model.export_onnx)
                registered = tracking.log_and_register(
                    package_dir, cfg.tracking.register_as, cfg.tracking.alias, serving_example(splits))
        wall = time.time() - started
        tracking.log_metrics({"wall_seconds": wall}, "run")

    result = {
        "run_id": run_id, "model_uri": registered["model_uri"], "registered": registered,
        "test": test, "wall_seconds": round(wall, 1), "world_size": ctx.world,
    }
    if ctx.main:
        (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str))
    return RunResult(run_id, registered["model_uri"], registered, test, out)
