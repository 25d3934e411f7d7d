"""The typed configuration of a training run and of a colorizer recipe. No field has a default: a profile
(unetcolor.profiles) gives every value."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

UNKEYED = ("precision",)  # execution details: they change results only by rounding
PRECISIONS = ("auto", "float32", "bfloat16")  # a run's precision settings (unetcolor.unet.precision)
HEAD_KINDS = ("regression", "bins", "gan", "hints")  # a recipe's heads (unetcolor.colorizers.registry.HEADS)
# a hints recipe's settings: how training reveals points (colorizers.hints.reveal), and the spreads to choose among
HINTS_KEYS = ("most", "none_share", "patch", "spaces", "tones")


class _Config:
    """What the configs share: checks of fixed choices, and to_dict."""

    def _settle(self, choices: dict, **tuples) -> None:
        """Build `model` from a mapping, make each of `tuples` a tuple of its type, and check `choices`."""
        if isinstance(getattr(self, "model", None), dict):
            object.__setattr__(self, "model", from_dict(ModelConfig, self.model, "model config"))
        for name, kind in tuples.items():
            object.__setattr__(self, name, tuple(kind(item) for item in getattr(self, name)))
        for name, options in choices.items():
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ModelConfig(_Config):
    """The U-Net's shape: the choices the paper leaves open (Section 3.1)."""

    image_size: int
    filters: tuple[int, ...]  # widths of the stride-2 encoder convolutions; the decoder mirrors them
    leaky_slope: float  # the encoder's LeakyReLU negative slope
    normalization: str  # "none" or "batch"
    final_skip: bool  # the last up step concatenates the gray input itself
    output: str  # "rgb" (tanh, 3 channels) or "ab" (a*, b* from L*, 2 channels)

    def __post_init__(self):
        self._settle({"normalization": ("none", "batch"), "output": ("rgb", "ab")}, filters=int)
        if len(self.filters) < 1:
            raise ValueError("filters must name at least one encoder width")
        if self.image_size % (2 ** len(self.filters)):
            raise ValueError(f"image_size {self.image_size} must be divisible by 2**{len(self.filters)} "
                             f"for {len(self.filters)} stride-2 stages")


@dataclass(frozen=True)
class TrainConfig(_Config):
    """Everything that determines a training run's result, and so its cache key."""

    model: ModelConfig
    epochs: int
    batch_size: int
    learning_rate: float
    split: str
    loss: str
    seed: int
    last_batch: str  # "fill": top the last, partial batch up from the epoch's start; "partial": keep it smaller
    precision: str  # one of PRECISIONS: an execution detail, not in the key
    data: str = ""  # the prepared data's fingerprint (photos.data.fingerprint); "" = not bound
    architecture: str = ""  # the built network's fingerprint (unet.model.architecture_fingerprint); "" = not bound

    def __post_init__(self):
        self._settle({"loss": ("mse", "mae", "huber"), "last_batch": ("fill", "partial"), "precision": PRECISIONS})
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and learning_rate > 0")

    def key(self) -> str:
        """A short stable hash of what determines the result (all but precision): the cache key."""
        values = {k: v for k, v in self.to_dict().items() if k not in UNKEYED}
        return hashlib.sha256(json.dumps(values, sort_keys=True, default=list).encode()).hexdigest()[:10]

    def run_name(self) -> str:
        """Readable and unique: e.g. 'bs64-lr0.0001-split80_20-e100-rgb-s42-<hash>'."""
        return (f"bs{self.batch_size}-lr{self.learning_rate:g}-split{self.split}"
                f"-e{self.epochs}-{self.model.output}-s{self.seed}-{self.key()}")


@dataclass(frozen=True)
class RecipeConfig(_Config):
    """Every knob of a colorizer recipe (unetcolor.colorizers). ``name`` (it names the files) and
    ``precision`` (an execution detail) take no part in comparing two recipes."""

    name: str = field(compare=False)
    head: str  # one of HEAD_KINDS
    model: ModelConfig
    epochs: int
    batch_size: int
    learning_rate: float
    final_learning_rate_share: float  # the cosine decay ends at this share of learning_rate
    flips: bool
    crop_share: float  # < 1: train on random square crops, their side from this share of the photo's to all
    split: str
    tuning_share: float  # the share of the split's training ids held out for the choices
    seed: int
    finetune_epochs: int  # then per-image log-MSE, regression head only; 0: none
    finetune_learning_rate: float
    max_train_minutes: float  # stop (keeping the best epoch) past this, per stage
    chroma_gains: tuple[float, ...]
    min_psnr_gain: float  # dB over the gray baseline, on the tuning subset, that a decoding must reach
    bias_correction: bool  # cancel the mean a*, b* colour cast measured on the tuning subset
    bin_grid: float  # head "bins": the a*, b* grid's step
    bin_sigma: float  # head "bins": the soft encoding's width
    rebalance: float  # head "bins": the share of uniform distribution in the rebalancing
    temperatures: tuple[float, ...]  # head "bins": the annealed-mean temperatures to choose from
    adversarial_weight: float  # head "gan": the adversarial term's weight against the mean absolute a*, b* error
    discriminator_filters: tuple[int, ...]  # head "gan": the patch discriminator's widths
    start_from: str | None  # head "hints": the shipped model (or .keras file) whose weights training starts from
    hints: dict  # head "hints": its settings (HINTS_KEYS); {} for the others
    precision: str = field(compare=False)  # one of PRECISIONS, for training only

    def __post_init__(self):
        self._settle({"precision": PRECISIONS, "head": HEAD_KINDS}, chroma_gains=float, temperatures=float,
                     discriminator_filters=int)
        if self.head != "regression" and self.finetune_epochs:
            raise ValueError("the log-MSE fine-tuning is for the regression head: set finetune_epochs=0")
        if not self.name.isidentifier():
            raise ValueError(f"name must be a plain word (it names the files), got {self.name!r}")
        if self.start_from is not None and not (isinstance(self.start_from, str) and (
                self.start_from.isidentifier() or self.start_from.endswith(".keras"))):
            raise ValueError("start_from must be null, the plain name of a shipped model or a .keras file, "
                             f"got {self.start_from!r}")
        if not isinstance(self.hints, dict):
            raise ValueError(f"hints must be a mapping, got {type(self.hints).__name__}")
        missing = [key for key in HINTS_KEYS if key not in self.hints] + ([] if self.start_from else ["start_from"])
        if self.head == "hints" and missing:
            raise ValueError(f"recipe {self.name!r}: the hints head needs start_from and hints settings "
                             f"{', '.join(HINTS_KEYS)}; missing: {', '.join(missing)}")
        if self.model.output != "ab":
            raise ValueError("a colorizer recipe predicts a*, b*: use ModelConfig(output='ab')")
        if not 0 < self.crop_share <= 1:
            raise ValueError(f"crop_share must be in (0, 1], got {self.crop_share}")
        if not 0 < self.tuning_share < 1:
            raise ValueError(f"tuning_share must be in (0, 1), got {self.tuning_share}")
        for knob in ("chroma_gains", "temperatures"):
            if not getattr(self, knob) or min(getattr(self, knob)) <= 0:
                raise ValueError(f"{knob} must be a non-empty list of positive numbers")

    @property
    def choices(self) -> tuple[str, tuple[float, ...]]:
        """(what is chosen on the tuning subset, its candidate values)."""
        return ("temperature", self.temperatures) if self.head == "bins" else ("chroma_gain", self.chroma_gains)


def from_dict(cls, values: dict, where: str):
    """cls(**values), its `model` built from a mapping; unknown or missing keys are an error naming where."""
    values = dict(values)
    if "model" in values and cls is not ModelConfig:
        values["model"] = from_dict(ModelConfig, values["model"], f"{where} (model)")
    fields = dataclasses.fields(cls)
    if unknown := sorted(set(values) - {f.name for f in fields}):
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(f.name for f in fields)}")
    if missing := sorted(f.name for f in fields if f.default is dataclasses.MISSING and f.name not in values):
        raise ValueError(f"{where}: missing key(s) {missing}")
    return cls(**values)


def recipe_config_from_dict(values: dict, where: str = "recipe config") -> RecipeConfig:
    return from_dict(RecipeConfig, values, where)


def train_config_from_dict(values: dict, where: str = "train config") -> TrainConfig:
    return from_dict(TrainConfig, values, where)


def load_train_config(path: str | Path) -> TrainConfig:
    """Read a YAML or JSON training config; unknown keys are an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config keys, got {type(values).__name__}")
    return train_config_from_dict(values, where=str(path))


def parse_assignments(items: list[str]) -> dict:
    """`NAME=VALUE` items (a command's --set) as a dict, each value a Python literal or else a bare string."""
    values = {}
    for item in items:
        name, separator, value = item.partition("=")
        if not separator or not name:
            raise ValueError(f"--set {item}: expected NAME=VALUE")
        try:
            values[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            values[name] = value  # a bare word is a string
    return values
