"""What a profile trains and evaluates, read and checked from profiles/<name>.yaml: a profile that `extends`
another, and a recipe, write only what differs from their base (a section.key, a knob)."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import paths
from .config import ModelConfig, RecipeConfig, TrainConfig, from_dict

SECTIONS = ("data", "model", "main", "study", "evaluation", "colorizers")
RECIPE_GROUPS = ("recipes", "candidates")  # the colorizers section's groups of recipes: shipped, tried
STUDY_FACTORS = {"batch_sizes": "batch_size", "learning_rates": "learning_rate", "splits": "split"}
SEASONS = ("summer", "winter")


@dataclass(frozen=True)
class Profile:
    """A profile's settings, checked; `main` is not yet bound to prepared data (config.data is "")."""

    name: str
    data: dict
    model: ModelConfig
    main: TrainConfig
    study: dict
    evaluation: dict
    colorizers: dict[str, RecipeConfig]  # by name: the shipped recipes first, then the candidates
    shipped_recipes: tuple[str, ...]  # the names of colorizers that are shipped recipes
    files: tuple[str, ...]  # the profile files read, most general first (relative to the root)

    @property
    def split_pairs(self) -> list[tuple[int, int]]:
        """data.splits as (train, validation) percentages: "80_20" -> (80, 20)."""
        return [tuple(int(part) for part in name.split("_")) for name in self.data["splits"]]

    def table(self) -> "list[dict]":
        """Every setting as rows {section, setting, value}, lists as text (a column keeps one type)."""
        main = {key: value for key, value in dataclasses.asdict(self.main).items() if key not in ("model", "data")}
        sections = {"data": self.data, "model": dataclasses.asdict(self.model), "main": main,
                    "study": self.study, "evaluation": self.evaluation}
        return [{"section": section, "setting": key,
                 "value": ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value}
                for section, values in sections.items() for key, value in values.items()]


def known(root: Path | None = None) -> list[str]:
    return sorted(path.stem for path in ((root or paths.project_root()) / "profiles").glob("*.yaml"))


def raw_settings(name: str, root: Path | None = None, _seen: tuple = ()) -> tuple[dict, list[Path]]:
    """The profile's sections with `extends` applied, and the files read (base first)."""
    root = root or paths.project_root()
    path = root / "profiles" / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such profile; known profiles: {known(root)}")
    if name in _seen:
        raise ValueError(f"{path}: `extends` forms a circle: {' -> '.join((*_seen, name))}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: a profile is a mapping of sections ({', '.join(SECTIONS)})")
    base_name = values.pop("extends", None)
    if unknown := sorted(set(values) - set(SECTIONS)):
        raise ValueError(f"{path}: unknown section(s) {unknown}; sections are {list(SECTIONS)} and `extends`")
    if base_name is None:
        return values, [path]
    base, files = raw_settings(base_name, root, (*_seen, name))
    merged = copy.deepcopy(base)
    for section, overrides in values.items():
        if not isinstance(overrides, dict):
            raise ValueError(f"{path}: section {section!r} must be a mapping")
        for key, value in overrides.items():
            if key not in base.get(section, {}):
                raise ValueError(f"{path}: {section}.{key} is not a setting of {base_name!r}, which it extends")
            if value == base[section][key]:
                raise ValueError(f"{path}: {section}.{key} = {value!r} repeats {base_name!r}'s value; remove it")
            merged[section][key] = value
    return merged, [*files, path]


def load(name: str, overrides: dict | None = None, root: Path | None = None) -> Profile:
    """Profile `name`, checked; overrides {"section.key": value} (a command's --set) replace settings, not the file."""
    root = root or paths.project_root()
    values, files = raw_settings(name, root)
    where = str(files[-1])
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if key not in values.get(section, {}):
            raise ValueError(f"--set {dotted}: profile {name!r} has no setting {dotted}")
        values[section][key] = value
    if missing := [section for section in SECTIONS if section not in values]:
        raise ValueError(f"{where}: missing section(s) {missing}")
    data = dict(values["data"])
    if data.get("season") not in SEASONS:
        given = repr(data["season"]) if "season" in data else "missing"
        raise ValueError(f"{where}: data.season is {given}; it must be one of {list(SEASONS)}, "
                         "the seasons of the downloaded dataset")
    model = from_dict(ModelConfig, {**values["model"], "image_size": data["image_size"]}, f"{where} (model)")
    main = from_dict(TrainConfig, {**values["main"], "model": dataclasses.asdict(model)}, f"{where} (main)")
    study = dict(values["study"])
    if set(study) - {*STUDY_FACTORS, "seeds"} or int(study.get("seeds", 0)) < 1:
        raise ValueError(f"{where}: study takes {sorted({*STUDY_FACTORS, 'seeds'})} (seeds at least 1); "
                         f"got {study}")
    for split in [*data["splits"], main.split, *study.get("splits", [])]:
        if split not in data["splits"]:
            raise ValueError(f"{where}: split {split!r} is not one that data.splits prepares ({data['splits']})")
    colorizers, shipped_recipes = colorizer_recipes(values["colorizers"], where)
    return Profile(name, data, model, main, study, dict(values["evaluation"]), colorizers, shipped_recipes,
                   tuple(paths.relative(path, root) for path in files))


def colorizer_recipes(section: dict, where: str) -> tuple[dict[str, RecipeConfig], tuple[str, ...]]:
    """The colorizers section's recipes as checked RecipeConfigs, shipped first; and the shipped ones' names."""
    if not isinstance(section, dict) or set(section) != {"defaults", *RECIPE_GROUPS}:
        raise ValueError(f"{where}: colorizers takes defaults, {', '.join(RECIPE_GROUPS)}; "
                         f"got {sorted(section) if isinstance(section, dict) else section!r}")
    knobs = [f.name for f in dataclasses.fields(RecipeConfig) if f.name != "name"]
    defaults = _mapping(section["defaults"], f"{where}: colorizers.defaults", knobs)
    if sorted(defaults) != sorted(knobs):
        raise ValueError(f"{where}: colorizers.defaults lacks {sorted(set(knobs) - set(defaults))}: "
                         "it gives every knob")
    entries = {}
    for group in RECIPE_GROUPS:
        for recipe, entry in _mapping(section[group], f"{where}: colorizers.{group}").items():
            if recipe in entries:
                raise ValueError(f"{where}: recipe {recipe!r} is named twice in colorizers")
            entries[recipe] = _mapping(entry, f"{where}: recipe {recipe!r}", [*knobs, "base"])
    recipes = {}
    for recipe in entries:
        try:
            values = {"name": recipe, **_recipe_knobs(recipe, entries, defaults, where, ())}
            recipes[recipe] = from_dict(RecipeConfig, values, f"{where}: recipe {recipe!r}")
        except ValueError as error:
            message = str(error)  # RecipeConfig's own checks do not name the file
            prefix = "" if message.startswith(where) else f"{where}: recipe {recipe!r}: "
            raise ValueError(prefix + message) from None
    return recipes, tuple(section["recipes"] or {})


def _mapping(values, where: str, knobs: list[str] | None = None) -> dict:
    """values as a mapping (None: empty), with no key outside knobs where they are given."""
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be a mapping, got {type(values).__name__}")
    if knobs is not None and (unknown := sorted(set(values) - set(knobs))):
        raise ValueError(f"{where}: unknown key(s) {unknown}; a recipe's keys are {sorted(knobs)}")
    return values


def _recipe_knobs(recipe: str, entries: dict, defaults: dict, where: str, chain: tuple) -> dict:
    """Recipe's knobs: its base's (a recipe, else the defaults) with its own over them, `model` key by key."""
    entry = dict(entries[recipe])
    base = entry.pop("base", None)
    if base is None:
        start = copy.deepcopy(defaults)
    elif base not in entries:
        raise ValueError(f"{where}: recipe {recipe!r} has base {base!r}, which is no recipe of colorizers")
    elif base in (*chain, recipe):
        raise ValueError(f"{where}: colorizers' `base` forms a circle: {' -> '.join((*chain, recipe, base))}")
    else:
        start = _recipe_knobs(base, entries, defaults, where, (*chain, recipe))
    model = _mapping(entry.pop("model", None), f"{where}: recipe {recipe!r}, model")
    return {**start, **entry, "model": {**_mapping(start["model"], f"{where}: colorizers.defaults.model"), **model}}
