"""`gankit export`: a trained generator as an ONNX graph, for use outside Python and torch.

The graph maps z (N, z_dim) float32, plus int64 class labels (N,) for a conditional run, to
images (N, C, H, W) in [-1, 1], with the batch size free. It is traced by torch.onnx's
dynamo exporter (torch.export underneath) and then run once by ONNX Runtime on fresh
latents and compared with torch, so a file that would give other images is never left
behind. A JSON sidecar says what the inputs mean.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.extras import require
from gankit.io import atomic_write
from gankit.models import Generator
from gankit.train.rundir import load_generator

TOLERANCE = 1e-4  # ONNX Runtime's kernels differ from torch's in the last float32 bits


class _Drawing(torch.nn.Module):
    """The generator's `draw` as a module's forward, so that the graph's images are clamped
    to [-1, 1] as gankit's own samples are."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator.draw(z, labels)


@dataclass(frozen=True)
class Export:
    model: Path
    sidecar: Path
    max_difference: float  # |ONNX Runtime - torch| over a check batch


def export_generator(run_dir: str | Path, out: str | Path, *, ema: bool = True,
                     opset: int = 18) -> Export:
    """Write the run's generator to OUT (.onnx) and OUT's .json sidecar; checks the graph
    against torch on 5 latents first."""
    out = Path(out)
    if out.suffix != ".onnx":
        raise GankitError(f"--out {out} must end in .onnx")
    require("onnxscript", "export")
    ort = require("onnxruntime", "export")
    trained = load_generator(run_dir, ema=ema, device="cpu")
    generator = trained.generator.eval()
    conditional = generator.num_classes > 0
    batch = torch.export.Dim("batch", min=1)
    check_z = torch.randn(5, generator.z_dim, generator=torch.Generator().manual_seed(0))
    check_labels = torch.arange(5) % max(generator.num_classes, 1)
    inputs = (check_z, check_labels) if conditional else (check_z,)
    names = ["z", "labels"] if conditional else ["z"]
    with tempfile.TemporaryDirectory(prefix="gankit-export-") as scratch:
        graph = Path(scratch) / "generator.onnx"
        try:
            torch.onnx.export(_Drawing(generator), inputs, str(graph), dynamo=True,
                              opset_version=opset, input_names=names, output_names=["images"],
                              verbose=False, external_data=False,  # one file, weights inside
                              dynamic_shapes=tuple({0: batch} for _ in inputs))
        except Exception as err:  # the exporter's errors are long; the first line names it
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise GankitError(f"could not export {trained.config.model}'s generator to ONNX: "
                              f"{first}") from None
        session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
        feed = {name: x.numpy() for name, x in zip(names, inputs, strict=True)}
        with torch.no_grad():
            expected = generator.draw(*inputs)
        got = torch.from_numpy(session.run(None, feed)[0])
        difference = float((got - expected).abs().max())
        if got.shape != expected.shape or not difference <= TOLERANCE:
            raise GankitError(f"the ONNX graph's images differ from torch's by {difference:.2g} "
                              f"(more than {TOLERANCE:g}); nothing was written")
        atomic_write(out, graph.read_bytes())
    sidecar = out.with_suffix(".json")
    atomic_write(sidecar, json.dumps({
        "inputs": {"z": f"float32 (N, {generator.z_dim}), standard normal",
                   **({"labels": f"int64 (N,), class indices 0..{generator.num_classes - 1}"}
                      if conditional else {})},
        "output": {"images": f"float32 (N, {', '.join(map(str, generator.image_shape))}) in "
                             "[-1, 1]; (x + 1) * 127.5 gives pixels"},
        "classes": list(trained.classes) if conditional else [],
        "model": trained.config.model, "step": trained.step, "ema": ema, "opset": opset,
        "run": str(run_dir), "max_difference_vs_torch": difference}, indent=1).encode())
    return Export(out, sidecar, difference)
