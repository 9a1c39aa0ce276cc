"""The screens' --variant option (bench/common.py): typed overrides or one parser error."""

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from common import add_variants, parse_variants  # noqa: E402

from gankit.experiments.augmentation import GAN_SIDE, AugmentConfig  # noqa: E402
from gankit.train import TrainConfig  # noqa: E402


def _parse(argv, config=TrainConfig, allowed=None):
    parser = argparse.ArgumentParser(prog="screen")
    add_variants(parser, "b32 batch_size=32")
    return parse_variants(parser, parser.parse_args(argv).variant, config, allowed)


def test_each_value_takes_its_fields_type():
    variants = _parse(["--variant", "fast lr_g=8e-4 batch_size=32 conditional=true",
                       "--variant", "aug diffaugment=translation,cutout"])
    assert variants == {"fast": {"lr_g": 8e-4, "batch_size": 32, "conditional": True},
                        "aug": {"diffaugment": "translation,cutout"}}
    assert isinstance(variants["fast"]["lr_g"], float)
    assert _parse([]) == {}


@pytest.mark.parametrize("argv, message, allowed", [
    (["--variant", "x batch_size=abc"], "--variant x: batch_size must be int, got 'abc'", None),
    (["--variant", "x conditional=maybe"], "conditional must be bool", None),
    (["--variant", "x nope=1"], "'nope' is not a setting a variant may change", None),
    (["--variant", "lr=1"], "needs a new name first", None),
    (["--variant", "x", "--variant", "x amp=on"], "needs a new name first", None),
    (["--variant", "x data=digits"], "choose from filter_by_confidence", GAN_SIDE),
])
def test_a_bad_variant_is_one_parser_error(argv, message, allowed, capsys):
    config = AugmentConfig if allowed else TrainConfig
    with pytest.raises(SystemExit):
        _parse(argv, config, allowed)
    assert message in capsys.readouterr().err


def test_a_screen_row_names_what_differs_from_todays_default_new_fields_included():
    from gan_screen import differences

    from gankit.train import make_config

    default = make_config({"recipe": "default"}).to_dict()
    older = {k: v for k, v in default.items() if k != "reuse_fakes"}  # before the option
    assert differences({**older, "amp": "on"}, default) == "reuse_fakes=False, amp=on"
    assert differences({**default, "seed": 3, "minutes": 10.0}, default) == "—"
