"""The shipped colorizers beyond the paper: small L*a*b* U-Nets that predict a*, b* at a reduced size
from the gray photo, one module per head, trained by a profile's recipes (``registry``, ``build``)
and compared in notebook 07 (``compare``). Headless: ``python -m unetcolor colorizers``."""

from __future__ import annotations

from .. import shipped
from .build import prepare, ship, train_colorizer
from .registry import HEADS, candidates, head_for, recipe, recipes
from .training import shrink_pairs, tuning_split

SHIPPED_DIR = shipped.WEIGHTS_DIR

__all__ = ["recipes", "candidates", "HEADS", "recipe", "head_for", "train_colorizer", "ship", "prepare",
           "shrink_pairs", "tuning_split", "SHIPPED_DIR"]
