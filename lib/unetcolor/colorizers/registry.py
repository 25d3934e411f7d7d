"""The recipes of a profile's `colorizers` section (``recipes``: the shipped ones, one per
automatic model of unetcolor.shipped, then the candidates tried for them), the head of each
kind (``HEADS``), and the rule that chooses a shipped recipe among candidates -- written down
before the candidates ran.

The rule, on the tuning subset only (a run's held-out numbers are computed once, after all of
its own choices, and never used for a choice between runs); every candidate must train in at
most ``BUDGET_MINUTES`` on 2 CPU cores and be at most ``BUDGET_MB``:

- accurate (the default): the highest tuning PSNR gain over the gray copy; a candidate within
  ``ACCURATE_TIE_DB`` of it that is more colourful on the tuning subset wins instead;
- vivid: among rebalanced candidates (bins head, rebalance < 1), the most colourful on the
  tuning subset whose tuning PSNR is at least the gray copy's; if none is, the best tuning PSNR.

Each recipe's wall-time guard, ``max_train_minutes``, is the training budget it was given.

Levers at colorizing time (``colorizers.levers``: test-time flips, averages of models, the
annealing temperature made to depend on each pixel's confidence) are variants of the shipped
models scored on each one's own tuning subset. A variant takes a shipped model's place only if,
on that subset, it beats the shipped model's PSNR gain by more than ``ACCURATE_TIE_DB``; for
the vivid model it must also be at least as colourful as the shipped vivid model there.
"""

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

HEADS: dict[str, type[Head]] = {head.kind: head for head in (RegressionHead, BinsHead, GanHead, HintsHead)}  # the kinds
if tuple(HEADS) != HEAD_KINDS:
    raise ValueError(f"colorizers.registry.HEADS {tuple(HEADS)} must be config.HEAD_KINDS {HEAD_KINDS}, "
                     "which RecipeConfig checks")

BUDGET_MINUTES = 180.0
BUDGET_MB = 20.0
ACCURATE_TIE_DB = 0.05


def head_for(config: RecipeConfig, fit_y: np.ndarray) -> Head:
    """config's head, set up for training on fit_y (a*, b* / 128 of the fit photos)."""
    return head_class(config).for_data(config, fit_y)


def head_class(config: RecipeConfig) -> type[Head]:
    """The Head class of config's kind (RecipeConfig checks that it is one of HEADS)."""
    return HEADS[config.head]


def recipes(profile: str = "paper") -> dict[str, RecipeConfig]:
    """The profile's colorizer recipes by name (its `colorizers` section): the shipped ones
    first, one per model of unetcolor.shipped, then the candidates."""
    loaded = profiles.load(profile)
    if loaded.shipped_recipes != shipped.NAMES:
        raise ValueError(f"{loaded.files[-1]}: colorizers.recipes {loaded.shipped_recipes} must name the shipped "
                         f"models {shipped.NAMES} (unetcolor.shipped), in that order")
    return loaded.colorizers


def candidates(profile: str = "paper") -> dict[str, RecipeConfig]:
    """The profile's candidate recipes: those tried for the shipped ones."""
    return {name: config for name, config in recipes(profile).items() if name not in shipped.NAMES}


def recipe(name: str, profile: str = "paper") -> RecipeConfig:
    """A shipped recipe or a candidate of the profile, by name."""
    known = recipes(profile)
    if name not in known:
        raise KeyError(f"no recipe named {name!r} in profile {profile!r}; known: {', '.join(known)}")
    return known[name]


def _within_budget(table: pd.DataFrame) -> pd.DataFrame:
    return table[(table["train_minutes"] <= BUDGET_MINUTES) & (table["model_MB"] <= BUDGET_MB)]


def choose_accurate(table: pd.DataFrame) -> str:
    """The rule above, on a ``compare.candidates_table``: the accurate model's candidate."""
    table = _within_budget(table)
    if table.empty:
        raise ValueError("no candidate within the training-time and size budget")
    close = table[table["tuning_psnr_gain"] >= table["tuning_psnr_gain"].max() - ACCURATE_TIE_DB]
    return str(close.loc[close["tuning_colorfulness_share"].idxmax(), "candidate"])


def choose_vivid(table: pd.DataFrame) -> str:
    """The rule above, on a ``compare.candidates_table``: the vivid model's candidate."""
    table = _within_budget(table)
    table = table[(table["head"] == "bins") & (table["rebalance"] < 1)]
    if table.empty:
        raise ValueError("no rebalanced candidate within the training-time and size budget")
    floor = table[table["tuning_psnr_gain"] >= 0]
    if len(floor):
        return str(floor.loc[floor["tuning_colorfulness_share"].idxmax(), "candidate"])
    return str(table.loc[table["tuning_psnr_gain"].idxmax(), "candidate"])


__all__ = ["HEADS", "recipes", "candidates", "recipe", "head_for", "choose_accurate", "choose_vivid"]
