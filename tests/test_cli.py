"""The command line end to end, on the bundled digits data (fast, no downloads)."""

import json

import pytest
from PIL import Image

from gankit.cli import build_parser, main
from gankit.io import load_state

from state_compare import assert_same_state

FAST = ["--data", "digits", "--steps", "4", "--batch-size", "16", "--width", "8",
        "--log-every", "2", "--sample-every", "2", "--checkpoint-every", "2", "--no-progress"]


def test_train_then_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FAST]) == 0
    for name in ("config.yaml", "checkpoint.safetensors", "metrics.jsonl", "samples.png",
                 "samples/step_0000002.png"):
        assert (run / name).is_file(), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4] and rows[0]["images_per_s"] > 0
    assert any((run / "tensorboard").iterdir())

    out = tmp_path / "grid.png"
    assert main(["sample", str(run), "--n", "6", "--out", str(out), "--scale", "1"]) == 0
    assert Image.open(out).size == (3 * 10 + 2, 2 * 10 + 2)  # 3 columns of 8px + padding
    assert main(["sample", str(run), "--interpolate", "5", "--n", "2", "--out", str(out),
                 "--scale", "1"]) == 0
    assert Image.open(out).size == (5 * 10 + 2, 2 * 10 + 2)

    assert main(["sample", str(run), "--class", "3"]) == 1
    assert "trained unconditionally" in capsys.readouterr().err


def test_conditional_run_samples_a_named_class(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--conditional", *FAST]) == 0
    assert main(["sample", str(run), "--class", "7", "--n", "4"]) == 0
    assert main(["sample", str(run), "--class", "dog"]) == 1
    assert "unknown class 'dog'; choose one of: 0=0, 1=1" in capsys.readouterr().err


def test_a_saved_config_starts_an_identical_run(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["train", "--out", str(first), *FAST]) == 0
    assert main(["train", "--config", str(first / "config.yaml"), "--out", str(second),
                 "--no-progress"]) == 0
    assert_same_state(load_state(first / "checkpoint.safetensors"),
                      load_state(second / "checkpoint.safetensors"))


def test_resume_continues_and_existing_run_is_protected(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FAST]) == 0
    assert main(["train", "--out", str(run), *FAST]) == 1
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--steps", "6", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "at step 4 of 6" in out
    assert "trained 2 steps (to step 6) in" in out  # this call's steps, not the total
    assert main(["train", "--resume", str(run), "--loss", "hinge"]) == 1
    assert "cannot change loss when resuming" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "gpt"],
     "unknown model 'gpt'; choose one of: mlp, dcgan, sndcgan, dcgan-mbstd, resnet, r3gan"),
    (["train", "--data", "imagenet"], "unknown dataset 'imagenet'; choose one of:"),
    (["train", "--loss", "l2"], "unknown loss 'l2'; choose one of:"),
    (["train", "--data", "digits", "--model", "dcgan", "--image-size", "9"],
     "cannot make 9x9 images"),
    (["sample", "/nonexistent/run"], "run directory /nonexistent/run does not exist"),
])
def test_bad_input_gives_one_clear_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "x")] if argv[0] == "train" else argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("text, message", [
    ("steps: [1, 2\n", "is not valid YAML at line 2, column 1: expected ',' or ']'"),
    ("- steps\n", "must hold a mapping of option: value"),
])
def test_a_broken_config_file_gives_one_line_with_its_place(text, message, capsys, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(text)
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert f"config file {config}" in err and message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_a_hand_broken_run_config_gives_one_line_in_report(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), *FAST]) == 0
    (run / "config.yaml").write_text("steps: {\n")
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert f"run config {run / 'config.yaml'} is not valid YAML at line" in err
    assert err.count("\n") == 1


def test_demo_falls_back_to_digits_when_data_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "empty"))
    run = tmp_path / "demo"
    # mnist is not installed anywhere here, so the demo must switch to digits.
    assert main(["demo", "--data", "mnist", "--minutes", "0.02", "--out", str(run),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "running the demo on the bundled 'digits'" in out and "samples:" in out
    assert (run / "samples.png").is_file()


@pytest.mark.parametrize("command", ["train", "demo", "sample", "datasets", "models"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: gankit" in capsys.readouterr().out


def test_listings(capsys):
    assert main(["models"]) == 0 and main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("mlp", "dcgan", "resnet", "minimax", "wasserstein", "original",
                 "fashion-mnist", "digits", "folder:PATH"):
        assert name in out


def _help_of(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_train_help_shows_the_default_recipes_values(capsys):
    from gankit.train import RECIPES, make_config

    text = _help_of(["train"], capsys)
    config = make_config({})
    for name, value in RECIPES.get("default").items():
        flag = "--" + name.replace("_", "-")
        assert getattr(config, name) == value
        if isinstance(value, bool):  # a switch pair, its default named by the flag it means
            switch = f"{flag}, --no-{flag[2:]} "
            assert switch in text, flag
            shown = text.split(switch, 1)[1].split("(default: ", 1)[1].split(")", 1)[0]
            assert shown == (flag if value else f"--no-{flag[2:]}"), (flag, shown)
            continue
        assert f"{flag} {flag[2:].upper()} " in text, flag
        shown = text.split(f"{flag} {flag[2:].upper()} ", 1)[1].split("--", 1)[0]
        assert f"default: {value}" in shown, (flag, shown)


def test_every_option_of_every_command_has_help_text():
    import dataclasses

    from gankit.cli import COMMANDS
    for command in COMMANDS:
        for cls in (*command.options, *([command.overrides] if command.overrides else [])):
            for f in dataclasses.fields(cls):
                if f.name not in command.skip:  # skipped fields are not flags
                    assert f.metadata.get("help", "").strip(), (command.name, cls.__name__, f.name)


def test_top_level_help_lists_every_command_without_importing_torch():
    import subprocess
    import sys

    from gankit.cli import COMMANDS
    code = ("import sys, gankit.cli\n"
            "try:\n    gankit.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('torch imported:', 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "torch imported: False" in out
    for command in COMMANDS:
        assert command.name.split(" ")[0] in out


def test_every_command_row_names_importable_functions_and_configs():
    import dataclasses

    from gankit.cli import COMMANDS
    for command in COMMANDS:
        assert callable(command.run), command.name
        assert all(dataclasses.is_dataclass(cls) for cls in command.options), command.name


def test_under_torchrun_only_rank_0_prints(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    assert main(["datasets"]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert main(["datasets"]) == 0
    assert "fashion-mnist" in capsys.readouterr().out
