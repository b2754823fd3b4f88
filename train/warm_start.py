"""Start a run from an earlier inspector: the "synthetic then real" recipe.

Weights come from a package (safetensors, never a pickle), found the same way `infer` finds a
model, so a registered synthetic model (`models:/counterfeit-inspector@candidate`) or a run's
`model/` folder both work.
"""

from __future__ import annotations

import json

from safetensors.torch import load_file

from infer.model import InspectorNet
from infer.package import META_FILE, WEIGHTS_FILE, find_package
from infer.registry import resolve


def init_from(net: InspectorNet, uri: str) -> dict:
    """Copy matching weights into `net`; returns what was loaded and what was left fresh."""
    folder = find_package(resolve(uri)[0])
    meta = json.loads((folder / META_FILE).read_text())
    source_backbone = meta["net"]["backbone"]
    if source_backbone != net.spec.backbone:
        raise ValueError(
            f"model.init={uri}: its backbone is {source_backbone}, this run builds {net.spec.backbone}"
        )
    state = load_file(str(folder / WEIGHTS_FILE))
    same_brands = list(meta["net"].get("brands", [])) == list(net.spec.brands)
    own = net.state_dict()
    loaded, fresh = {}, []
    for key, value in own.items():
        if key.startswith("brand_head.") and not same_brands:
            fresh.append(key)
        elif key in state and state[key].shape == value.shape:
            loaded[key] = state[key]
        else:
            fresh.append(key)
    net.load_state_dict(loaded, strict=False)
    return {"source": str(folder), "loaded": len(loaded), "fresh": fresh}
