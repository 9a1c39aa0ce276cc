"""`gankit export`: a generator as one ONNX file that gives torch's images at any batch size."""

import shutil

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.train import load_generator

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("model, extra", [("dcgan", ["--conditional"]), ("mlp", []),
                                          ("r3gan", [])])
def test_the_exported_graph_gives_torchs_images_at_any_batch(tmp_path, capsys, model, extra):
    run = tmp_path / "run"
    assert main(["train", "--data", "digits", "--model", model, "--width", "8", "--steps", "2",
                 "--out", str(run), "--no-progress", *extra]) == 0
    assert main(["export", str(run)]) == 0
    assert "ONNX Runtime matches torch" in capsys.readouterr().out
    alone = tmp_path / "elsewhere" / "g.onnx"  # the file holds its weights: it travels alone
    alone.parent.mkdir()
    shutil.copy(run / "generator.onnx", alone)
    session = ort.InferenceSession(str(alone), providers=["CPUExecutionProvider"])
    generator = load_generator(run, device="cpu").generator
    z = torch.randn(7, generator.z_dim)
    labels = torch.tensor([0, 1, 2, 3, 9, 9, 5])
    feed = {"z": z.numpy(), **({"labels": labels.numpy()} if extra else {})}
    with torch.no_grad():
        expected = generator.draw(z, labels if extra else None)
    got = session.run(None, feed)[0]
    assert got.shape == (7, 1, 8, 8)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-4)
    sidecar = (run / "generator.json").read_text()
    assert ('"labels"' in sidecar) == bool(extra) and '"step": 2' in sidecar


def test_export_refuses_other_runs_and_other_file_types(tmp_path, capsys):
    assert main(["classify", "train", "--data", "digits", "--epochs", "1", "--width", "4",
                 "--out", str(tmp_path / "clf"), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "clf")]) == 1
    assert "is a classifier run; this needs a GAN run" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "clf"), "--out", str(tmp_path / "g.pt")]) == 1
    assert "must end in .onnx" in capsys.readouterr().err
    assert not (tmp_path / "g.pt").exists()
