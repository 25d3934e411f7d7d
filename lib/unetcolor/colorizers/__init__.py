"""The shipped colorizers beyond the paper: small L*a*b* U-Nets predicting a*, b* at a reduced size from the gray
photo, one module per head, trained by a profile's recipes. Headless: ``python -m unetcolor colorizers``."""

from __future__ import annotations

from ..shipped import WEIGHTS_DIR as SHIPPED_DIR
from .build import prepare, ship, train_colorizer
from .registry import HEADS, head_for, recipe, recipes
from .training import shrink_pairs, tuning_split

__all__ = ["recipes", "HEADS", "recipe", "head_for", "train_colorizer", "ship", "prepare", "shrink_pairs",
           "tuning_split", "SHIPPED_DIR"]
