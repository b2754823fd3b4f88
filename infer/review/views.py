"""Which view of the shoe a queued photo shows, so that it is compared with a genuine reference
of the same view: a side with a side, a size tag with a size tag.

The manifest's `view` column says it when the inspection app knows it; otherwise the photo's
file name often does (officers' cameras and apps name files `..._sole.jpg`, `tag-2.jpg`). A
photo whose view is unknown is compared with every reference, and the embedding chooses.
"""

from __future__ import annotations

import re
from pathlib import PurePath

# The views of datasets/README.md and their common synonyms in file names.
SYNONYMS = {
    "side": ("side", "profile", "lateral", "medial", "outer", "inner"),
    "logo": ("logo", "swoosh", "jumpman", "wings", "tongue"),
    "stitching": ("stitching", "stitch", "stitches", "seam"),
    "label": ("label", "tag", "sizetag", "size", "madein", "insidetag"),
    "sole": ("sole", "outsole", "bottom", "tread", "insole"),
    "box": ("box", "boxlabel", "carton"),
}
_WORD = {word: view for view, words in SYNONYMS.items() for word in words}


def view_of(name: str | None, given: str | None = None) -> str | None:
    """The view named by the manifest (`given`), else one read off the file name, else None."""
    given = (given or "").strip().lower()
    if given in SYNONYMS:
        return given
    if given in _WORD:
        return _WORD[given]
    if not name:
        return None
    words = re.split(r"[^a-z]+", PurePath(str(name)).stem.lower())
    found = {_WORD[w] for w in words if w in _WORD}
    return found.pop() if len(found) == 1 else None
