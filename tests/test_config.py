import pytest

from gankit.errors import GankitError
from gankit.train import make_config
from gankit.train.config import config_yaml


def test_precedence_recipe_then_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("recipe: dcgan\nlr_d: 0.001\nsteps: 7\n")
    config = make_config({"steps": 9}, file=path)
    assert config.recipe == "dcgan" and config.loss == "nonsaturating"  # from the recipe
    assert config.lr_d == 0.001 and config.steps == 9


def test_saved_config_round_trips(tmp_path):
    config = make_config({"recipe": "original", "seed": 5, "epochs": 2})
    path = tmp_path / "config.yaml"
    path.write_text(config_yaml(config))
    assert make_config(file=path) == config
    assert config.total_steps(1000) == 32  # ceil(2 * 1000 / 64)


def test_bad_config_values_are_named(tmp_path):
    with pytest.raises(GankitError, match="unknown option 'lr' in options; valid options:"):
        make_config({"lr": 1.0})
    with pytest.raises(GankitError, match="'steps' in options must be int"):
        make_config({"steps": "many"})
    with pytest.raises(GankitError, match="unknown recipe 'fast'; choose one of: default"):
        make_config({"recipe": "fast"})
    with pytest.raises(GankitError, match="--batch-size must be at least 1"):
        make_config({"batch_size": 0})
    with pytest.raises(GankitError, match="--mode-seeking must be non-negative"):
        make_config({"mode_seeking": -1.0})
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(GankitError, match="must hold a mapping"):
        make_config(file=bad)
