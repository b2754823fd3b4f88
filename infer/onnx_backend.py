"""The network as an ONNX graph, run by onnxruntime: same inputs and outputs as the eager path.

The graph is the plain network (no preprocessing): photos are normalised by
`infer.preprocess.normalize_array`, the numpy twin of what training uses, so both backends see
the same input.

Running a graph needs numpy and onnxruntime only; torch is imported when a graph is exported.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from infer.preprocess import normalize_array
from infer.spec import NetSpec, batches

if TYPE_CHECKING:
    from infer.model import InspectorNet

ONNX_FILE = "model.onnx"
INPUT = "images"
OUTPUTS = ("counterfeit_logit", "brand_logits", "features")


def export_onnx(net: InspectorNet, path: str | Path) -> Path:
    """Write `net` as a single-file ONNX graph: float NCHW at `spec.image_size`, any batch size."""
    import torch
    from torch import nn

    class AllOutputs(nn.Module):
        """`forward_all` as `forward`: the exporter traces `forward`, and OOD needs the features."""

        def __init__(self, net: InspectorNet):
            super().__init__()
            self.net = net

        def forward(self, images: torch.Tensor):
            return self.net.forward_all(images)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A copy: export needs eval mode and CPU, and the caller's network may be mid-training.
    if next(net.parameters()).device.type != "cpu" or net.training:
        net = copy.deepcopy(net).cpu()
    wrapper = AllOutputs(net).eval()
    size = net.spec.image_size
    # Batch 2 in the example: torch.export specialises a dimension traced at size 0 or 1.
    example = torch.zeros(2, 3, size, size)
    batch = torch.export.Dim("batch", min=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The torch.export-based exporter: the TorchScript one is deprecated, and its graph
        # keeps timm's runtime "same"-padding arithmetic (Shape/Gather/Pad chains around every
        # strided conv) that onnxruntime does not fold away; this one folds the padding into
        # the convolutions, which runs ~25% faster on CPU.
        program = torch.onnx.export(
            wrapper,
            (example,),
            dynamo=True,
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_shapes=({0: batch},),
            optimize=True,
            verbose=False,
        )
    # Self-describing for anyone serving the file alone: how to preprocess, which TTA to apply.
    program.model.metadata_props["inspector.net"] = json.dumps(net.spec.to_dict(), sort_keys=True)
    program.save(path, external_data=False)
    return path


def default_threads() -> int:
    """torch's thread count when torch is loaded (it honours OMP_NUM_THREADS and
    torch.set_num_threads), else OMP_NUM_THREADS, else 0: onnxruntime's own choice, one per
    physical core, which is torch's default too."""
    if "torch" in sys.modules:
        return sys.modules["torch"].get_num_threads()
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() else 0


def _session(path: Path, threads: int | None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Both backends get the same cores (default_threads).
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1  # one chain of convolutions: nothing to run in parallel
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle workers sleep instead of spinning: between runs this process decodes JPEGs on the
    # main thread, and on a 2-core box a spinning worker takes the other core from that (and
    # from any neighbour). Measured under load: 6 draft decodes + a 6-photo run, 539 ms
    # without spinning vs 637 ms with.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxNet:
    """onnxruntime twin of `infer.model.predict_arrays` for an exported `InspectorNet`."""

    def __init__(self, path: str | Path, spec: NetSpec, threads: int | None = None):
        self.path = Path(path)
        self.spec = spec
        self.session = _session(self.path, threads)
        self.num_features = int(self.session.get_outputs()[2].shape[1])

    @classmethod
    def for_package(cls, folder: str | Path, spec: NetSpec, threads: int | None = None,
                    net: InspectorNet | None = None) -> OnnxNet:
        """The package's model.onnx; packages saved before ONNX export get one exported now
        from `net`, or from their weights when not given (the only case that needs torch)."""
        path = Path(folder) / ONNX_FILE
        if path.is_file():
            return cls(path, spec, threads)
        print(f"note: {folder} has no {ONNX_FILE}; exporting one from its weights", file=sys.stderr)
        if net is None:
            from infer.package import load_package

            net, _ = load_package(folder)
        with tempfile.TemporaryDirectory(prefix="inspector-onnx-") as tmp:
            # The session holds the graph in memory; the file can go with the folder.
            return cls(export_onnx(net, Path(tmp) / ONNX_FILE), spec, threads)

    def _run(self, x: np.ndarray):
        return self.session.run(list(OUTPUTS), {INPUT: x})

    def predict_arrays(self, arrays: np.ndarray, batch_size: int = 32, features: bool = False):
        """Same contract as `infer.model.predict_arrays(net, arrays, batch_size, features=...)`."""
        spec = self.spec
        cf_out, brand_out, feat_out = [], [], []
        for photos in batches(len(arrays), batch_size):
            x = normalize_array(arrays[photos], spec.mean, spec.std)
            cf, brand, feats = self._run(x)
            cf_out.append(cf.astype(np.float64))
            brand_out.append(brand.astype(np.float64))
            if features:
                feat_out.append(feats.astype(np.float32, copy=False))
        if not cf_out:
            empty = (np.zeros(0), np.zeros((0, max(1, len(self.spec.brands)))))
            return (*empty, np.zeros((0, self.num_features), np.float32)) if features else empty
        out = (np.concatenate(cf_out), np.concatenate(brand_out))
        return (*out, np.concatenate(feat_out)) if features else out
