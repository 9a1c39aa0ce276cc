"""Disk faults: a read-only folder or a full disk gives one line naming the path and the
cause, before long work where it can be known, and leaves no half-written file behind."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gankit.cli import main

TRAIN = ["train", "--data", "digits", "--steps", "2", "--log-every", "1"]


def _mount(folder: Path, options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                      capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")


@pytest.fixture
def faults(tmp_path):
    """`read_only(folder)`: a read-only copy of `folder` (as root, which ignores permission
    bits, a tmpfs remounted read-only; else mode 555); `full(size)`: a tmpfs of that size (root
    only)."""
    mounts: list[Path] = []
    locked: list[Path] = []

    def read_only(folder: Path) -> Path:
        copy = tmp_path / f"read-only-{len(mounts) + len(locked)}"
        if os.geteuid() == 0:
            _mount(copy, "size=16m")
            mounts.append(copy)
            shutil.copytree(folder, copy, dirs_exist_ok=True)
            subprocess.run(["mount", "-o", "remount,ro", str(copy)], check=True)
        else:
            shutil.copytree(folder, copy)
            for path in [copy, *copy.rglob("*")]:
                if path.is_dir():
                    path.chmod(0o555)
                    locked.append(path)
        return copy

    def full(size: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("a full disk needs a tmpfs, so root")
        folder = tmp_path / f"full-{len(mounts)}"
        _mount(folder, f"size={size}")
        mounts.append(folder)
        return folder

    class Faults:
        pass

    f = Faults()
    f.read_only, f.full = read_only, full
    yield f
    for folder in reversed(mounts):
        subprocess.run(["umount", str(folder)], capture_output=True)
    for path in locked:
        path.chmod(0o755)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gankit: error: "), err
    return err[0]


def test_training_into_a_read_only_folder_fails_at_the_start(tmp_path, faults, capsys):
    (tmp_path / "empty").mkdir()
    folder = faults.read_only(tmp_path / "empty")
    assert main([*TRAIN, "--out", str(folder / "x")]) == 1
    line = _one_error_line(capsys)
    assert f"cannot write {folder / 'x'}" in line and "not writable" in line
    assert main(["classify", "train", "--data", "digits", "--steps", "2",
                 "--out", str(folder / "c")]) == 1
    assert "cannot write" in _one_error_line(capsys)


def test_scoring_or_resuming_a_read_only_run_fails_before_the_work(tmp_path, faults, capsys):
    assert main([*TRAIN, "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    run = faults.read_only(tmp_path / "run")
    capsys.readouterr()
    assert main(["eval", str(run), "--metrics", "memorization", "--n", "50"]) == 1
    assert f"cannot write {run}" in _one_error_line(capsys)
    assert main(["train", "--resume", str(run), "--steps", "4"]) == 1
    assert "cannot write" in _one_error_line(capsys)
    assert main(["sample", str(tmp_path / "run"), "--out", str(run / "more.png")]) == 1
    assert f"cannot write {run / 'more.png'}" in _one_error_line(capsys)


def test_a_full_disk_names_the_cause_and_leaves_no_temporary_file(faults, capsys):
    disk = faults.full("48k")  # room for the config and logs, not for a checkpoint
    assert main([*TRAIN, "--out", str(disk / "x"), "--no-progress"]) == 1
    line = _one_error_line(capsys)
    assert "checkpoint.safetensors: No space left on device; free some space" in line
    assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]
