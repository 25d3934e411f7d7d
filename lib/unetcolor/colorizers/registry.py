"""The recipes: the three shipped ones (``RECIPES``), the candidates tried for them
(``CANDIDATES``), the head of each kind (``HEADS``), and the rule that chooses a shipped
recipe among candidates -- written down before the candidates ran.

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

import dataclasses

import numpy as np
import pandas as pd

from .. import shipped
from ..config import ModelConfig
from .bins import BinsHead
from .gan import GanHead
from .head import Head
from .recipe import RecipeConfig
from .regression import RegressionHead

HEADS: dict[str, type[Head]] = {head.kind: head for head in (RegressionHead, BinsHead, GanHead)}  # the kinds

BUDGET_MINUTES = 180.0
BUDGET_MB = 20.0
ACCURATE_TIE_DB = 0.05


def head_for(config: RecipeConfig, fit_y: np.ndarray) -> Head:
    """config's head, set up for training on fit_y (a*, b* / 128 of the fit photos)."""
    return head_class(config).for_data(config, fit_y)


def head_class(config: RecipeConfig) -> type[Head]:
    if config.head not in HEADS:
        raise ValueError(f"recipe {config.name!r}: head must be one of {', '.join(HEADS)}, got {config.head!r}")
    return HEADS[config.head]


# Recipes tried for the shipped ones; `make candidate RECIPE=NAME` trains one
# into models/default-model/, where its provenance record is kept (its weights are not committed).
CHROMA_128 = ModelConfig(image_size=128, filters=(32, 64, 128, 256, 256), leaky_slope=0.2, normalization="batch",
                         final_skip=True, output="ab")
CANDIDATES = {
    # the first default: the regression head with log-MSE fine-tuning (RecipeConfig's own defaults)
    "regression": RecipeConfig(name="regression"),
    # chroma predicted at 128x128 instead of 64x64, with a fifth level for context
    "accurate128": RecipeConfig(name="accurate128", head="bins", finetune_epochs=0, rebalance=1.0, model=CHROMA_128),
    # the vivid recipe with its mean colour cast cancelled per temperature, and a PSNR floor of gray
    "vivid_debiased": RecipeConfig(name="vivid_debiased", head="bins", finetune_epochs=0, rebalance=0.5,
                                   min_psnr_gain=0.0, bias_correction=True),
    # the regression head with its per-image log-MSE fine-tuning (the mean-PSNR objective) at 128x128
    "regression128": RecipeConfig(name="regression128", model=CHROMA_128),
    # vivid_debiased at 128x128
    "vivid128_debiased": RecipeConfig(name="vivid128_debiased", head="bins", finetune_epochs=0, rebalance=0.5,
                                      min_psnr_gain=0.0, bias_correction=True, model=CHROMA_128),
    # training levers, each alone on the accurate default's recipe (accurate128), with its
    # wall-time guard at the 3-hour budget: crops and scales of the photos' own pixels; twice the epochs;
    # a wider net (about 1.6 times the parameters, within 20 MB)
    "accurate128_crops": RecipeConfig(name="accurate128_crops", head="bins", finetune_epochs=0, rebalance=1.0,
                                      model=CHROMA_128, crop_share=0.5, max_train_minutes=170.0),
    "accurate128_e48": RecipeConfig(name="accurate128_e48", head="bins", finetune_epochs=0, rebalance=1.0,
                                    model=CHROMA_128, epochs=48, max_train_minutes=170.0),
    "accurate128_wide": RecipeConfig(name="accurate128_wide", head="bins", finetune_epochs=0, rebalance=1.0,
                                     model=dataclasses.replace(CHROMA_128, filters=(40, 80, 160, 320, 320)),
                                     max_train_minutes=170.0),
    # and the vivid recipe's rebalancing lambda (the share of the uniform distribution; Zhang et al.'s 0.5)
    # on either side: stronger rebalancing (0.25) and weaker (0.75)
    "vivid_rebalance025": RecipeConfig(name="vivid_rebalance025", head="bins", finetune_epochs=0, rebalance=0.25,
                                       min_psnr_gain=0.0, bias_correction=True, max_train_minutes=170.0),
    "vivid_rebalance075": RecipeConfig(name="vivid_rebalance075", head="bins", finetune_epochs=0, rebalance=0.75,
                                       min_psnr_gain=0.0, bias_correction=True, max_train_minutes=170.0),
}

# The shipped models, one recipe per name of unetcolor.shipped: the accurate default (what colorize uses), vivid, gan.
# default and vivid are the candidates the rule chose (notebook 07 shows the table it read): their
# files are those candidates' runs (``build.ship``), and `make default-model` / `make vivid-model`
# retrain the same recipes under the shipped names.
RECIPES = {
    "default": dataclasses.replace(CANDIDATES["accurate128_crops"], name="default"),
    "vivid": dataclasses.replace(CANDIDATES["vivid_rebalance075"], name="vivid"),
    # the paper's other future-work item: the regression U-Net trained against a patch discriminator,
    # a candidate for the vivid model; Isola et al.'s learning rate, 2e-4
    "gan": RecipeConfig(name="gan", head="gan", finetune_epochs=0, learning_rate=2e-4, epochs=30,
                        min_psnr_gain=0.2),
}


if tuple(RECIPES) != tuple(model.name for model in shipped.AUTOMATIC):
    raise ValueError(f"colorizers.registry.RECIPES {tuple(RECIPES)} must name the shipped automatic models "
                     f"{tuple(model.name for model in shipped.AUTOMATIC)}")
for _config in (*RECIPES.values(), *CANDIDATES.values()):
    head_class(_config)  # every recipe names a head of HEADS


def recipe(name: str) -> RecipeConfig:
    """A shipped recipe or a candidate, by name."""
    known = {**RECIPES, **CANDIDATES}
    if name not in known:
        raise KeyError(f"no recipe named {name!r}; known: {', '.join(known)}")
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


__all__ = ["HEADS", "RECIPES", "CANDIDATES", "recipe", "head_for", "choose_accurate", "choose_vivid"]
