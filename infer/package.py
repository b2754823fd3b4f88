"""The shipped model folder: `weights.safetensors` + `inspector.json`, no pickled objects.

Loading a checkpoint a user could hand us must never execute code, so weights are safetensors
and everything else is plain JSON. `model.onnx` (the same network for onnxruntime) rides along
but is optional: the weights stay the source of truth and older packages lack it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infer.onnx_backend import ONNX_FILE, export_onnx
from infer.spec import NetSpec

if TYPE_CHECKING:
    from infer.model import InspectorNet

FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
META_FILE = "inspector.json"


class PackageError(RuntimeError):
    pass


def save_package(
    folder: str | Path, net: InspectorNet, meta: dict[str, Any], ood=None, *, onnx: bool = True
) -> Path:
    """`ood`: an optional `infer.ood.FeatureDensity`, saved as ood.safetensors beside the weights.
    `onnx`: also export the network to model.onnx (see infer.onnx_backend)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # A graph left from an earlier save would no longer match these weights.
    (folder / ONNX_FILE).unlink(missing_ok=True)
    if ood is not None:
        ood.save(folder)
    state = {k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE))
    document = {"format_version": FORMAT_VERSION, "net": net.spec.to_dict(), **meta}
    (folder / META_FILE).write_text(json.dumps(document, indent=2, sort_keys=True))
    if onnx:
        try:
            export_onnx(net, folder / ONNX_FILE)
        except Exception as exc:
            # The package is complete without the graph (the ONNX backend exports on load);
            # an exporter gap for some backbone must not throw away a finished training run.
            (folder / ONNX_FILE).unlink(missing_ok=True)
            print(f"warning: {folder}: ONNX export failed, package saved without "
                  f"{ONNX_FILE}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return folder


def is_package(folder: str | Path) -> bool:
    folder = Path(folder)
    return (folder / META_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()


def find_package(root: str | Path) -> Path:
    """The package folder at or below `root` (an MLflow model keeps it under artifacts/)."""
    root = Path(root)
    if is_package(root):
        return root
    for meta in sorted(root.rglob(META_FILE)):
        if is_package(meta.parent):
            return meta.parent
    raise PackageError(f"{root}: no {META_FILE} + {WEIGHTS_FILE} found (not an inspector model)")


def read_meta(folder: str | Path) -> tuple[Path, dict[str, Any]]:
    """(package folder, its inspector.json) without touching the weights: all that serving
    through onnxruntime needs besides the graph, so it never imports torch."""
    folder = find_package(folder)
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise PackageError(f"{folder / META_FILE}: invalid JSON ({exc})") from exc
    if meta.get("format_version") != FORMAT_VERSION:
        raise PackageError(
            f"{folder / META_FILE}: format_version {meta.get('format_version')!r}, "
            f"this code reads {FORMAT_VERSION}"
        )
    return folder, meta


def load_package(folder: str | Path) -> tuple[InspectorNet, dict[str, Any]]:
    from safetensors.torch import load_file

    from infer.model import build_from_spec

    folder, meta = read_meta(folder)
    net = build_from_spec(NetSpec.from_dict(meta["net"]))
    state = load_file(str(folder / WEIGHTS_FILE))
    net.load_state_dict(state, strict=True)
    net.eval()
    return net, meta
