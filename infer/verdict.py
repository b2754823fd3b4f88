"""What the inspection app receives: one verdict per parcel, with its per-photo evidence."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VERDICTS = ("counterfeit", "genuine", "review")


@dataclass
class Thresholds:
    genuine_below: float = 0.2
    counterfeit_above: float = 0.8
    min_brand_probability: float = 0.5

    def __post_init__(self):
        if not 0.0 <= self.genuine_below <= self.counterfeit_above <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= genuine_below ({self.genuine_below}) <= "
                f"counterfeit_above ({self.counterfeit_above}) <= 1"
            )


@dataclass
class PhotoResult:
    path: str
    counterfeit_probability: float | None = None
    brand: str | None = None
    brand_probability: float | None = None
    error: str | None = None
    # True when the photo does not look like the training photos (None: model cannot tell).
    out_of_distribution: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {k: v for k, v in asdict(self).items()
                if k != "error" and not (k == "out_of_distribution" and v is None)}


@dataclass
class ParcelVerdict:
    parcel_id: str
    verdict: str
    counterfeit_probability: float
    brand: str | None
    brand_probability: float
    photos: list[PhotoResult]
    model: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    # Per photo that was read for print: its lines (text, box, confidence), fields and, where
    # nothing was read, why; empty when labels were not read.
    labels: list[dict[str, Any]] = field(default_factory=list)
    # Every label check's outcome (pass / fail / unknown) with the photos and values behind it.
    label_checks: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parcel_id": self.parcel_id,
            "verdict": self.verdict,
            "counterfeit_probability": self.counterfeit_probability,
            "brand": self.brand,
            "brand_probability": self.brand_probability,
            "reasons": list(self.reasons),
            "photos": [p.to_dict() for p in self.photos],
            "model": dict(self.model),
            "labels": list(self.labels),
            "label_checks": list(self.label_checks),
        }


def decide(
    counterfeit_probability: float, brand_probability: float, thresholds: Thresholds
) -> tuple[str, list[str]]:
    """Verdict and the machine-readable reasons a person should look."""
    reasons = []
    if thresholds.genuine_below <= counterfeit_probability < thresholds.counterfeit_above:
        reasons.append("counterfeit_probability_in_band")
    if brand_probability < thresholds.min_brand_probability:
        reasons.append("brand_uncertain")
    if reasons:
        return "review", reasons
    if counterfeit_probability >= thresholds.counterfeit_above:
        return "counterfeit", reasons
    return "genuine", reasons


def with_label_checks(verdict: str, reasons: list[str], failed: list[str]) -> tuple[str, list[str]]:
    """A failed label check is a reason to look: it never lets a parcel be cleared as genuine
    automatically (it goes to review); a counterfeit verdict stands."""
    if failed and verdict == "genuine":
        verdict = "review"
    return verdict, reasons + [r for r in failed if r not in reasons]
