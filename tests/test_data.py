import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import load_dataset, per_class_subset, to_uint8
from gankit.data.sources import FASHION_CLASSES
from gankit.errors import GankitError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir() and not os.environ.get("CI"),
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); CI has it",
)


@needs_fashion
def test_fashion_mnist_has_documented_shapes_range_and_classes():
    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert train.classes == FASHION_CLASSES
    assert train.class_counts() == [6000] * 10 and test.class_counts() == [1000] * 10
    # uint8 -> [-1, 1] -> uint8 is lossless.
    raw = np.frombuffer(gzip.decompress((FASHION_DIR / "t10k-images-idx3-ubyte.gz").read_bytes()),
                        np.uint8, offset=16).reshape(-1, 28, 28)
    assert torch.equal(to_uint8(test.images[:100])[:, 0], torch.from_numpy(raw[:100].copy()))


def test_digits_loads_with_no_data_installed():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.images.shape == (1437, 1, 8, 8) and test.images.shape == (360, 1, 8, 8)
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    assert train.num_classes == 10 and sum(test.class_counts()) == 360


def test_resize_and_unknown_split():
    data = load_dataset("digits", "test", image_size=16)
    assert data.images.shape == (360, 1, 16, 16)
    assert data.images.min() >= -1 and data.images.max() <= 1
    with pytest.raises(GankitError, match="unknown split 'valid'; choose one of: train, val, "
                       "test"):
        load_dataset("digits", "valid")


def test_holdout_carves_one_validation_split_out_of_train_for_every_seed():
    full = load_dataset("digits", "train")
    rest = load_dataset("digits", "train", holdout=200)
    val = load_dataset("digits", "val", holdout=200, seed=5)
    assert (len(rest), len(val), val.split) == (len(full) - 200, 200, "val")
    pixels = {tuple(x.flatten().tolist()) for x in full.images}
    seen = {tuple(x.flatten().tolist()) for x in rest.images}
    held = {tuple(x.flatten().tolist()) for x in val.images}
    assert seen | held <= pixels and len(seen & held) <= 5  # digits repeats a few images
    assert torch.equal(val.images, load_dataset("digits", "val", holdout=200, seed=9).images)
    assert load_dataset("digits", "train", holdout=200, per_class=5).class_counts() == [5] * 10
    with pytest.raises(GankitError, match="split 'val' is the images a run held out of training; "
                       "train with --holdout N"):
        load_dataset("digits", "val")
    with pytest.raises(GankitError, match="--holdout must be between 1 and"):
        load_dataset("digits", "train", holdout=len(full))


def test_per_class_subset_is_deterministic_and_balanced():
    data = load_dataset("digits", "train")
    a, b = per_class_subset(data, 10, seed=3), per_class_subset(data, 10, seed=3)
    assert a.class_counts() == [10] * 10
    assert torch.equal(a.images, b.images)
    c = per_class_subset(data, 10, seed=4)
    assert not torch.equal(a.images, c.images)
    with pytest.raises(GankitError, match=r"--per-class 500 is larger than the smallest class"):
        load_dataset("digits", "train", per_class=500)


def test_unknown_dataset_lists_choices():
    with pytest.raises(GankitError, match="unknown dataset 'cifar'; choose one of: fashion-mnist"):
        load_dataset("cifar")


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path))
    with pytest.raises(GankitError, match=r"mnist not found .*--data-root DIR"):
        load_dataset("mnist", root=tmp_path / "nowhere", download=False)


def test_idx_files_in_data_root_are_found_and_truncation_is_named(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (3, 28, 28))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    labels = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([0, 1, 2])
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(labels)
    data = load_dataset("mnist", root=tmp_path, download=False)
    assert data.images.shape == (3, 1, 28, 28) and data.labels.tolist() == [0, 1, 2]
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(labels[:-1])
    with pytest.raises(GankitError, match=r"train-labels-idx1-ubyte is truncated"):
        load_dataset("mnist", root=tmp_path, download=False)


def _write_images(folder: Path, n: int, mode: str, size=(12, 12)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new(mode, size, color=(i * 20) if mode == "L" else (i * 20, 0, 255)).save(
            folder / f"{i}.png")


def test_folder_with_class_subfolders(tmp_path):
    _write_images(tmp_path / "cats", 3, "L")
    _write_images(tmp_path / "dogs", 2, "L")
    data = load_dataset(f"folder:{tmp_path}")
    assert data.classes == ("cats", "dogs") and data.labels.tolist() == [0, 0, 0, 1, 1]
    assert data.images.shape == (5, 1, 12, 12)


def test_folder_rgb_resize_and_train_test_splits(tmp_path):
    _write_images(tmp_path / "train" / "x", 2, "RGB", size=(20, 10))
    _write_images(tmp_path / "test" / "x", 1, "RGB", size=(20, 10))
    data = load_dataset(f"folder:{tmp_path}", "test", image_size=8)
    assert data.images.shape == (1, 3, 8, 8)
    with pytest.raises(GankitError, match="not square.*--image-size"):
        load_dataset(f"folder:{tmp_path}")


def test_unlabeled_folder_has_no_classes(tmp_path):
    _write_images(tmp_path, 2, "L")
    data = load_dataset(f"folder:{tmp_path}")
    assert not data.labeled and data.labels.tolist() == [-1, -1]
    with pytest.raises(GankitError, match="has no test split"):
        load_dataset(f"folder:{tmp_path}", "test")


def test_empty_or_broken_folder_names_the_problem(tmp_path):
    with pytest.raises(GankitError, match=f"no PNG/JPEG images in {tmp_path}"):
        load_dataset(f"folder:{tmp_path}")
    with pytest.raises(GankitError, match="does not exist"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    _write_images(tmp_path, 1, "L")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(GankitError, match=r"cannot read image .*broken.png"):
        load_dataset(f"folder:{tmp_path}")


def _cifar_batch(path: Path, labels: list[int]) -> np.ndarray:
    """A CIFAR-10 binary batch: per record a label byte, then the R, G and B planes."""
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    records = np.concatenate([np.array(labels, dtype=np.uint8)[:, None],
                              planes.reshape(len(labels), -1)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(path)
    return planes


def test_cifar10_binary_batches_load_without_pickles(tmp_path):
    planes = _cifar_batch(tmp_path / "cifar-10-batches-bin" / "test_batch.bin", [3, 9, 0])
    data = load_dataset("cifar10", "test", root=tmp_path)
    assert data.images.shape == (3, 3, 32, 32) and data.labels.tolist() == [3, 9, 0]
    assert data.classes[3] == "cat" and data.classes[9] == "truck"
    assert torch.equal(to_uint8(data.images), torch.from_numpy(planes))  # R, G, B in order
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(b"\0" * 3000)
    with pytest.raises(GankitError, match="is not a CIFAR-10 binary batch"):
        load_dataset("cifar10", "test", root=tmp_path)
    _cifar_batch(tmp_path / "cifar-10-batches-bin" / "test_batch.bin", [42])
    with pytest.raises(GankitError, match="is it CIFAR-100"):
        load_dataset("cifar10", "test", root=tmp_path)


@pytest.mark.parametrize("name, hint", [("cifar10", "cifar-10-batches-bin/"),
                                        ("svhn", "svhn/")])
def test_colour_sets_offline_say_where_to_put_the_files(tmp_path, monkeypatch, name, hint):
    monkeypatch.setenv("GANKIT_OFFLINE", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(GankitError, match=f"{name} is not on this machine and downloads are "
                                          f"off .*--data-root DIR holding {hint}"):
        load_dataset(name, "train", root=tmp_path)


def test_stacked_images_take_their_mode_from_the_three_channels_labels():
    from gankit.data import ImageDataset
    from gankit.data.stacked import stack

    labels = torch.arange(40) % 10
    # every image shows its label as its grey level, so a channel tells which class it came from
    images = (labels.float() / 10 - 0.45).view(-1, 1, 1, 1).expand(40, 1, 4, 4).contiguous()
    stacked = stack(ImageDataset("levels", "train", images, labels, tuple("0123456789")), 0)
    assert stacked.images.shape == (40, 3, 4, 4) and stacked.num_classes == 1000
    read = ((stacked.images[:, :, 0, 0] + 0.45) * 10).round().long()  # (40, 3) digits
    assert torch.equal(stacked.labels, read[:, 0] * 100 + read[:, 1] * 10 + read[:, 2])
    assert stacked.classes[7] == "007"
    again = load_dataset("stacked:digits", "train")
    assert torch.equal(again.images, load_dataset("stacked:digits", "train").images)
    assert not torch.equal(again.labels[:50], load_dataset("stacked:digits", "test").labels[:50])
    with pytest.raises(GankitError, match="stacked: needs a labelled grayscale dataset"):
        stack(ImageDataset("rgb", "train", torch.zeros(4, 3, 4, 4), torch.zeros(4).long(),
                           ("a",)), 0)
