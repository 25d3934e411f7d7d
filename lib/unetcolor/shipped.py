"""The colorizers shipped in lib/unetcolor/weights/, named once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Shipped:
    name: str  # weights/<name>.keras and .json, its recipe, `make <name>-model`
    role: str  # what notebook 07's targets call it
    option: str | None  # the colorize option that picks it; None: the default
    title: str  # its row in notebook 07's tables
    summary: str  # one line for --help
    hints: bool = False  # it takes colour hints (colorizers.hints); the others colour on their own


SHIPPED = (
    Shipped("default", "accurate", None, "L*a*b* U-Net, accurate (shipped default)",
            "the most accurate of the models tried, and still muted"),
    Shipped("vivid", "vivid", "--vivid", "L*a*b* U-Net, vivid (shipped --vivid)",
            "bolder colours: rare, saturated colours weighted up, its colour cast cancelled"),
    Shipped("gan", "gan", "--gan", "L*a*b* U-Net, adversarial (shipped --gan)",
            "trained against a patch discriminator (pix2pix-style)"),
    Shipped("hints", "hints", None, "L*a*b* U-Net taking colour hints (shipped hints)",
            "follows colour hints (--hint X,Y=#RRGGBB); with none it colours as the default does", hints=True),
)
NAMES = tuple(model.name for model in SHIPPED)
AUTOMATIC = tuple(model for model in SHIPPED if not model.hints)  # colour on their own: compared in notebook 07
AUTOMATIC_NAMES = tuple(model.name for model in AUTOMATIC)
HINTS = next(model for model in SHIPPED if model.hints)
DEFAULT = SHIPPED[0]


def by_role(role: str) -> Shipped:
    return next(model for model in SHIPPED if model.role == role)
