"""Deterministic synthetic photos of opened customs parcels holding branded shoes, genuine or
counterfeit, with the manifest format real data uses (see datasets/README.md)."""

from .brands import BRANDS
from .defects import DEFECTS, VIEWS
from .generate import generate_dataset

__all__ = ["BRANDS", "DEFECTS", "VIEWS", "generate_dataset"]
