"""A profile's colorizer recipes, the head class of each kind (``HEADS``), and the rule, written down
before the candidates ran, that chooses the shipped ones on the tuning subset within the budgets."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import profiles, shipped
from ..config import HEAD_KINDS, RecipeConfig
from .bins import BinsHead
from .gan import GanHead
from .head import Head
from .hints import HintsHead
from .regression import RegressionHead

HEADS: dict[str, type[Head]] = {head.kind: head for head in (RegressionHead, BinsHead, GanHead, HintsHead)}
if tuple(HEADS) != HEAD_KINDS:
    raise ValueError(f"colorizers.registry.HEADS {tuple(HEADS)} must be config.HEAD_KINDS {HEAD_KINDS}, "
                     "which RecipeConfig checks")

BUDGET_MINUTES = 180.0
BUDGET_MB = 20.0
ACCURATE_TIE_DB = 0.05


def head_for(config: RecipeConfig, fit_y: np.ndarray) -> Head:
    """config's head, set up for training on fit_y (a*, b* / 128 of the fit photos)."""
    return HEADS[config.head].for_data(config, fit_y)


def recipes(profile: str = "paper") -> dict[str, RecipeConfig]:
    """The profile's colorizer recipes by name: the shipped ones first, then the candidates."""
    loaded = profiles.load(profile)
    if loaded.shipped_recipes != shipped.NAMES:
        raise ValueError(f"{loaded.files[-1]}: colorizers.recipes {loaded.shipped_recipes} must name the shipped "
                         f"models {shipped.NAMES} (unetcolor.shipped), in that order")
    return loaded.colorizers


def candidates(profile: str = "paper") -> dict[str, RecipeConfig]:
    """The profile's candidate recipes (those tried for the shipped ones)."""
    return {name: config for name, config in recipes(profile).items() if name not in shipped.NAMES}


def recipe(name: str, profile: str = "paper") -> RecipeConfig:
    """A shipped recipe or a candidate of the profile, by name."""
    known = recipes(profile)
    if name not in known:
        raise KeyError(f"no recipe named {name!r} in profile {profile!r}; known: {', '.join(known)}")
    return known[name]


def _within_budget(table: pd.DataFrame, what: str = "candidate") -> pd.DataFrame:
    table = table[(table["train_minutes"] <= BUDGET_MINUTES) & (table["model_MB"] <= BUDGET_MB)]
    if table.empty:
        raise ValueError(f"no {what} within the training-time and size budget")
    return table


def choose_accurate(table: pd.DataFrame) -> str:
    """The accurate model's candidate (a ``compare.candidates_table``'s): the highest tuning PSNR gain, unless
    one within ACCURATE_TIE_DB of it is more colourful; levers must beat the shipped model by more than that."""
    table = _within_budget(table)
    close = table[table["tuning_psnr_gain"] >= table["tuning_psnr_gain"].max() - ACCURATE_TIE_DB]
    return str(close.loc[close["tuning_colorfulness_share"].idxmax(), "candidate"])


def choose_vivid(table: pd.DataFrame) -> str:
    """The vivid model's candidate: the most colourful rebalanced bins run whose tuning PSNR is at least the
    gray copy's, else the best tuning PSNR; a lever must also be as colourful as the shipped model."""
    table = _within_budget(table[(table["head"] == "bins") & (table["rebalance"] < 1)], "rebalanced candidate")
    floor = table[table["tuning_psnr_gain"] >= 0]
    best = floor["tuning_colorfulness_share"].idxmax() if len(floor) else table["tuning_psnr_gain"].idxmax()
    return str(table.loc[best, "candidate"])
