"""Request bodies the review API accepts: strict types, bounded sizes, no unknown keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DecisionBody(BaseModel):
    # Booleans are booleans and strings strings: "override": "yes" is refused, not read as true.
    model_config = ConfigDict(strict=True, extra="forbid")

    decision: Literal["counterfeit", "genuine", "cannot_tell"]
    reviewer: str = Field(min_length=1, max_length=200)
    brand: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=5000)
    override: bool = False
