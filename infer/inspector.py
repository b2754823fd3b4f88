"""`Inspector`: photos of one parcel in, a `ParcelVerdict` out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from infer.calibration import ParcelCalibration
from infer.ood import FeatureDensity
from infer.package import load_package, read_meta
from infer.photos import PhotoError, PhotoSource, describe, load_photo
from infer.pooling import pool_brand, pool_logits, sigmoid
from infer.preprocess import letterbox
from infer.spec import NetSpec, softmax
from infer.verdict import ParcelVerdict, PhotoResult, Thresholds, decide, with_label_checks

if TYPE_CHECKING:
    from infer.model import InspectorNet

# "auto": onnxruntime when the package carries model.onnx, else eager PyTorch.
BACKENDS = ("torch", "onnx", "auto")


class NoReadablePhotos(ValueError):
    """Raised when no photo of a parcel could be read; lists every file and why."""

    def __init__(self, parcel_id: str, errors: list[PhotoResult]):
        lines = "\n".join(f"  {p.path}: {p.error}" for p in errors) or "  (no photos given)"
        super().__init__(f"parcel {parcel_id}: no readable photo\n{lines}")
        self.parcel_id = parcel_id
        self.errors = errors


@dataclass
class PhotoScores:
    """Raw network outputs for a batch of photos (NaN rows where a photo was unreadable)."""

    names: list[str]
    counterfeit_logit: np.ndarray  # [N]
    brand_probs: np.ndarray  # [N, B]
    errors: list[str | None]
    ood_score: np.ndarray | None = None  # [N], NaN where unreadable; None without a density
    # What each photo prints (infer.labels.PhotoText; None where the photo was unreadable);
    # None when labels were not read.
    texts: list | None = None


class Inspector:
    # A parcel is "not a shoe" when more than this share of its readable photos is off-distribution.
    NOT_A_SHOE_SHARE = 0.5
    # Photos of one parcel decoded at once; 1 = one after another.
    decode_threads = min(8, os.cpu_count() or 1)

    def __init__(self, meta: dict[str, Any], identity: dict | None = None,
                 ood: FeatureDensity | None = None, *, net: InspectorNet | None = None,
                 package: Path | None = None, labels: bool = False):
        """`net`: the eager network, or None to build it from `package` when first needed (an
        inspector serving through onnxruntime never does, so it never imports torch)."""
        if net is None and package is None:
            raise ValueError("Inspector needs the network or the package folder to load it from")
        self._net = None if net is None else net.eval()
        self.package = package
        self.onnx = None  # an infer.onnx_backend.OnnxNet running the network's graph instead, if set
        # Read the print on every photo (size tags, box labels) and check it (infer.labels);
        # `Inspector.load` turns it on unless asked not to.
        self.read_labels = labels
        self.ood = ood
        self.meta = meta
        self.spec = net.spec if net is not None else NetSpec.from_dict(meta["net"])
        self.brands = list(self.spec.brands)
        self.pooling = meta.get("pooling", "log_mean_exp")
        self.thresholds = Thresholds(**meta.get("thresholds", {}))
        temps = meta.get("temperature", {})
        self.counterfeit_temperature = float(temps.get("counterfeit", 1.0))
        self.brand_temperature = float(temps.get("brand", 1.0))
        # Models packaged before parcel recalibration existed carry none: identity.
        self.parcel_calibration = ParcelCalibration.from_dict(meta.get("parcel_calibration"))
        # Brands and models the counterfeit head learned from; None for packages that do not say.
        self.counterfeit_trained = meta.get("counterfeit_trained")
        model = meta.get("model", {})
        self.identity = {
            "name": model.get("name"),
            "version": model.get("version"),
            "run_id": model.get("run_id"),
        }
        self.identity.update({k: v for k, v in (identity or {}).items() if v is not None})

    @property
    def net(self) -> InspectorNet:
        """The eager PyTorch network (loaded from the package on first use)."""
        if self._net is None:
            self._net, _ = load_package(self.package)
        return self._net

    @property
    def backend(self) -> str:
        return "torch" if self.onnx is None else "onnx"

    @classmethod
    def load(cls, uri: str | Path | None = None, backend: str = "torch",
             shoe_crop: bool | None = None, labels: bool = True) -> Inspector:
        """From a model folder, an MLflow model URI (models:/, runs:/), or, with no argument,
        the newest registered version of `counterfeit-inspector`. `backend`: "torch" (eager),
        "onnx" (onnxruntime on the package's model.onnx; torch is not even imported when the
        package has one) or "auto" (onnx when the package has model.onnx, else torch).
        `shoe_crop`: True or False overrides the package's `NetSpec.shoe_crop`. `labels`: read
        and check the print on the photos (about a second a parcel on 2 cores)."""
        from infer.onnx_backend import ONNX_FILE
        from infer.registry import resolve

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        folder, identity = resolve(None if uri is None else str(uri))
        package, meta = read_meta(folder)
        has_graph = (package / ONNX_FILE).is_file()
        if backend == "auto":
            backend = "onnx" if has_graph else "torch"
        net = None
        if backend == "torch" or not has_graph:
            # Eager network wanted, or needed once to export the missing graph: loaded once and
            # kept, so `inspector.net` does not read the weights again.
            net, meta = load_package(package)
        inspector = cls(meta, identity, FeatureDensity.load(package), net=net, package=package)
        if shoe_crop is not None:
            inspector.spec.shoe_crop = bool(shoe_crop)
        inspector.read_labels = bool(labels)
        if backend == "onnx":
            from infer.onnx_backend import OnnxNet

            inspector.onnx = OnnxNet.for_package(package, inspector.spec, net=net)
        return inspector

    # -- photos -------------------------------------------------------------------------------
    def _decode(self, source: PhotoSource, name: str) -> np.ndarray:
        img = load_photo(source, name=name, min_size=self.spec.image_size)
        return letterbox(img, self.spec.image_size)

    def _decode_for_crop(self, source: PhotoSource, name: str) -> Image.Image | None:
        """With `shoe_crop`: the photo at the resolution its crop is cut from (decoded a second
        time, so that the whole view stays exactly what training saw)."""
        if not self.spec.shoe_crop:
            return None
        from infer.shoe_crop import CROP_DECODE_FACTOR

        return load_photo(source, name=name, min_size=CROP_DECODE_FACTOR * self.spec.image_size)

    def _decode_for_labels(self, source: PhotoSource, name: str) -> Image.Image | None:
        """With `read_labels`: the photo at the resolution its print is read from."""
        if not self.read_labels:
            return None
        from infer.labels import DECODE_SIDE

        return load_photo(source, name=name, min_size=DECODE_SIDE)

    def _shoe_crop_probs(self, images: list[Image.Image]) -> tuple[np.ndarray, list[int]]:
        """Brand probabilities of the crops around the shoe, and which photos got a crop."""
        from infer.shoe_crop import shoe_crops

        crops, index = shoe_crops(images, self.spec.image_size, self.spec.image_size)
        if not index:
            return np.zeros((0, len(self.brands))), []
        return self.forward_arrays(crops, ood=False)[1], index

    def forward_arrays(self, arrays: np.ndarray, batch_size: int = 32, ood: bool = True):
        """Letterboxed uint8 photos -> calibrated counterfeit logits [N], brand probs [N,B] and
        out-of-distribution scores [N] (None when the model has no feature density, or with
        `ood=False`)."""
        features = ood and self.ood is not None
        if self.onnx is not None:
            out = self.onnx.predict_arrays(arrays, batch_size, features=features)
        else:
            from infer.model import predict_arrays

            out = predict_arrays(self.net, arrays, batch_size, features=features)
        cf, brand = out[:2]
        ood = self.ood.score(out[2]) if features else None
        return cf / self.counterfeit_temperature, softmax(brand, self.brand_temperature), ood

    def embed(self, sources: Sequence[PhotoSource], names: Sequence[str] | None = None) -> np.ndarray:
        """The backbone's pooled features of each photo, L2-normalised [N, D] (a row of NaN for
        a photo that cannot be read): what "looks alike" means to the model."""
        names = list(names) if names is not None else [describe(s, i) for i, s in enumerate(sources)]
        arrays, ok = [], []
        for i, pair in enumerate(zip(sources, names, strict=True)):
            try:
                arrays.append(self._decode(*pair))
                ok.append(i)
            except PhotoError:
                continue
        width = self.onnx.num_features if self.onnx is not None else self.net.backbone.num_features
        out = np.full((len(names), width), np.nan, np.float32)
        if arrays:
            if self.onnx is not None:
                feats = self.onnx.predict_arrays(np.stack(arrays), features=True)[2]
            else:
                from infer.model import predict_arrays

                feats = predict_arrays(self.net, np.stack(arrays), features=True)[2]
            feats = np.asarray(feats, np.float32)
            out[ok] = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
        return out

    def score_photos(
        self, sources: Sequence[PhotoSource], names: Sequence[str] | None = None
    ) -> PhotoScores:
        names = list(names) if names is not None else [describe(s, i) for i, s in enumerate(sources)]

        def decode(pair):
            try:
                return (self._decode(*pair), self._decode_for_crop(*pair), self._decode_for_labels(*pair)), None
            except PhotoError as exc:
                return None, exc.reason

        # Pillow releases the GIL while it decodes and resizes, and entropy-decoding phone JPEGs
        # is most of a parcel's time, so the photos decode side by side.
        pairs = list(zip(sources, names, strict=True))
        if len(pairs) > 1 and self.decode_threads > 1:
            with ThreadPoolExecutor(min(self.decode_threads, len(pairs))) as pool:
                decoded = list(pool.map(decode, pairs))
        else:
            decoded = [decode(pair) for pair in pairs]
        arrays = [a[0] for a, _ in decoded if a is not None]
        bigs = [a[1] for a, _ in decoded if a is not None]
        texts = None
        if self.read_labels:
            from infer.labels import reader

            texts = [None if a is None else reader.read_photo(a[2]) for a, _ in decoded]
        errors = [e for _, e in decoded]
        ok = [i for i, (a, _) in enumerate(decoded) if a is not None]
        n, b = len(names), len(self.brands)
        logit = np.full(n, np.nan)
        probs = np.full((n, b), np.nan)
        ood = np.full(n, np.nan) if self.ood is not None else None
        if arrays:
            cf, br, scores = self.forward_arrays(np.stack(arrays))
            if self.spec.shoe_crop:
                from infer.shoe_crop import with_crops

                br = with_crops(br, *self._shoe_crop_probs(bigs))
            logit[ok], probs[ok] = cf, br
            if ood is not None:
                ood[ok] = scores
        return PhotoScores(names, logit, probs, errors, ood, texts)

    # -- parcels ------------------------------------------------------------------------------
    def verdict_from_scores(self, scores: PhotoScores, parcel_id: str,
                            dispatch_country: str | None = None) -> ParcelVerdict:
        photos, good = [], []
        for i, name in enumerate(scores.names):
            if scores.errors[i] is not None:
                photos.append(PhotoResult(path=name, error=scores.errors[i]))
                continue
            k = int(np.argmax(scores.brand_probs[i]))
            off = None
            if scores.ood_score is not None and self.ood is not None:
                off = bool(scores.ood_score[i] > self.ood.threshold)
            photos.append(
                PhotoResult(
                    path=name,
                    counterfeit_probability=round(float(sigmoid(scores.counterfeit_logit[i])), 6),
                    brand=self.brands[k],
                    brand_probability=round(float(scores.brand_probs[i, k]), 6),
                    out_of_distribution=off,
                )
            )
            good.append(i)
        if not good:
            raise NoReadablePhotos(parcel_id, photos)
        pooled = pool_logits(scores.counterfeit_logit[good], self.pooling)
        probability = float(sigmoid(self.parcel_calibration(pooled)))
        brand_probs = pool_brand(scores.brand_probs[good])
        k = int(np.argmax(brand_probs))
        verdict, reasons = decide(probability, float(brand_probs[k]), self.thresholds)
        if len(good) < len(photos):
            reasons.append("unreadable_photos")
        flags = [p.out_of_distribution for p in photos if p.out_of_distribution is not None]
        if flags and sum(flags) / len(flags) > self.NOT_A_SHOE_SHARE:
            # Whatever the score says, a photo of something else is not evidence about a shoe.
            verdict = "review"
            reasons.append("not_a_shoe")
        labels, checks = [], []
        if scores.texts is not None:
            from infer.labels import failed_reasons, parcel_evidence

            labels, outcomes = parcel_evidence(scores.texts, scores.names, self.brands[k], dispatch_country)
            verdict, reasons = with_label_checks(verdict, reasons, failed_reasons(outcomes))
            checks = [o.to_dict() for o in outcomes]
        if not self.knows_counterfeits_of(self.brands[k], [lab["fields"].get("model_name") for lab in labels]):
            # The image score was never taught on this brand or model: no automatic verdict.
            verdict = "review"
            reasons.append("counterfeit_model_untrained")
        return ParcelVerdict(
            parcel_id=parcel_id,
            verdict=verdict,
            counterfeit_probability=round(probability, 6),
            brand=self.brands[k],
            brand_probability=round(float(brand_probs[k]), 6),
            photos=photos,
            model=dict(self.identity),
            reasons=reasons,
            labels=labels,
            label_checks=checks,
        )

    def knows_counterfeits_of(self, brand: str, model_names: list[str | None]) -> bool:
        """Whether the counterfeit head learned from labelled photos of this brand and, where a
        label names the model, of that model (True when the package does not say)."""
        trained = self.counterfeit_trained
        if not trained:
            return True
        if trained.get("brands") and brand.lower() not in trained["brands"]:
            return False
        names = [_squeezed(n) for n in model_names if n]
        models = [_squeezed(m) for m in trained.get("models", [])]
        if names and models:
            return any(m in name for name in names for m in models)
        return True

    def inspect(
        self,
        photos: Iterable[PhotoSource],
        parcel_id: str | None = None,
        names: Sequence[str] | None = None,
        dispatch_country: str | None = None,
    ) -> ParcelVerdict:
        """Judge one parcel from its photos (paths, bytes or PIL images). `dispatch_country`:
        where the parcel was posted from (the manifest's or the app's record), checked against
        the labels' "made in".

        Unreadable photos get an `error` entry and the parcel is judged on the rest; if none can
        be read, NoReadablePhotos is raised naming each file and why.
        """
        sources = list(photos)
        scores = self.score_photos(sources, names)
        if parcel_id is None:
            parcel_id = _default_parcel_id(sources)
        return self.verdict_from_scores(scores, parcel_id, dispatch_country)


# Abbreviations box labels print for the models manifests spell out.
MODEL_ALIASES = {"aj1": "airjordan1", "af1": "airforce1"}


def _squeezed(name: str) -> str:
    """A model name in lower-case letters and digits only, its usual abbreviation spelt out."""
    out = "".join(ch for ch in name.lower() if ch.isalnum())
    for short, long in MODEL_ALIASES.items():
        if out.startswith(short):
            out = long + out[len(short):]
    return out


def _default_parcel_id(sources: list[PhotoSource]) -> str:
    paths = [Path(s) for s in sources if isinstance(s, str | Path)]
    if paths:
        parents = {p.resolve().parent for p in paths}
        if len(parents) == 1:
            return parents.pop().name
    return "parcel"
