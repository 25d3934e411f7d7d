"""The profiles' colorizers section: every recipe built and checked at load time, `base`
resolved, and the smoke profile inheriting the paper's recipes."""

from __future__ import annotations

import shutil

import pytest
import yaml

from unetcolor import paths, profiles, shipped
from unetcolor.colorizers import registry


def _project_with(tmp_path, edit) -> "paths.Path":
    """A root holding the real profiles, profiles/paper.yaml's colorizers section changed by edit."""
    shutil.copytree(paths.project_root() / "profiles", tmp_path / "profiles")
    path = tmp_path / "profiles" / "paper.yaml"
    values = yaml.safe_load(path.read_text())
    edit(values["colorizers"])
    path.write_text(yaml.safe_dump(values))
    return tmp_path


def test_every_shipped_recipe_loads_first_and_is_a_shipped_name():
    loaded = profiles.load("paper")
    assert loaded.shipped_recipes == shipped.NAMES
    assert tuple(loaded.colorizers)[:len(loaded.shipped_recipes)] == loaded.shipped_recipes
    assert all(config.name == name for name, config in loaded.colorizers.items())
    assert registry.recipe("default") == registry.recipe("accurate128_crops")  # base: accurate128_crops
    assert registry.recipe("accurate128_wide").model.image_size == 128  # model keys merge into the base's
    assert registry.recipe("gan").start_from is None and registry.recipe("gan").hints == {}


def test_the_smoke_profile_inherits_the_section_unchanged():
    paper, smoke = profiles.load("paper"), profiles.load("smoke")
    assert smoke.colorizers == paper.colorizers and smoke.shipped_recipes == paper.shipped_recipes
    assert profiles.raw_settings("smoke")[0]["colorizers"] == profiles.raw_settings("paper")[0]["colorizers"]


def test_an_unknown_knob_is_refused_naming_the_file_recipe_and_key(tmp_path):
    root = _project_with(tmp_path, lambda section: section["candidates"]["accurate128"].update(epoks=3))
    with pytest.raises(ValueError, match=r"paper\.yaml: recipe 'accurate128': unknown key\(s\) \['epoks'\]"):
        profiles.load("paper", root=root)


def test_a_base_circle_and_a_missing_base_are_refused(tmp_path):
    def circle(section):
        section["candidates"]["accurate128"]["base"] = "accurate128_crops"
    with pytest.raises(ValueError, match="`base` forms a circle: .*accurate128_crops -> accurate128"):
        profiles.load("paper", root=_project_with(tmp_path / "circle", circle))
    root = _project_with(tmp_path / "missing", lambda section: section["recipes"]["vivid"].update(base="nowhere"))
    with pytest.raises(ValueError, match="recipe 'vivid' has base 'nowhere', which is no recipe"):
        profiles.load("paper", root=root)


def test_a_recipe_is_checked_as_a_recipe_config_at_load_time(tmp_path):
    root = _project_with(tmp_path, lambda section: section["candidates"]["regression"].update(head="cnn"))
    with pytest.raises(ValueError, match="recipe 'regression': head must be one of regression, bins, gan"):
        profiles.load("paper", root=root)
