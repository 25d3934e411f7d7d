"""The typed configuration of a training run.

No field has a default: the paper's values are written once, in profiles/paper.yaml,
and a smaller run is a profile that overrides some of them (profiles/smoke.yaml);
unetcolor.profiles builds these configs from those files.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml


@dataclass(frozen=True)
class ModelConfig:
    """Choices the paper leaves open (Section 3.1), each exposed as a parameter.

    filters:        width of each of the six stride-2 encoder convolutions; the
                    decoder mirrors them. 64 doubling to a cap of 512 follows the
                    pix2pix U-Net, the common reading of "doubling the features".
    leaky_slope:    LeakyReLU negative slope in the encoder (0.2, as pix2pix/DCGAN).
    normalization:  "none" (the paper names none) or "batch".
    final_skip:     the last up step concatenates the gray input itself, so the
                    output layer sees full-resolution luminance edges.
    output:         "rgb" (paper: tanh, 3 channels) or "ab" (Section 6: predict
                    a*, b* from L*, 2 channels).
    """

    image_size: int
    filters: tuple[int, ...]
    leaky_slope: float
    normalization: str
    final_skip: bool
    output: str

    def __post_init__(self):
        object.__setattr__(self, "filters", tuple(int(f) for f in self.filters))
        if len(self.filters) < 1:
            raise ValueError("filters must name at least one encoder width")
        if self.image_size % (2 ** len(self.filters)):
            raise ValueError(
                f"image_size {self.image_size} must be divisible by 2**{len(self.filters)} "
                f"for {len(self.filters)} stride-2 stages"
            )
        if self.normalization not in ("none", "batch"):
            raise ValueError(f"normalization must be 'none' or 'batch', got {self.normalization!r}")
        if self.output not in ("rgb", "ab"):
            raise ValueError(f"output must be 'rgb' or 'ab', got {self.output!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result (and so its cache key).

    last_batch: "fill" tops the last, partial training batch of an epoch up with photos
                from the start of that epoch's order, so every step has one shape and
                XLA compiles the training step once; "partial" keeps Keras' smaller last
                batch (what the published paper-profile runs did).
    precision:  "auto" | "float32" | "bfloat16" (see unetcolor.unet.precision). An execution
                detail like the device: recorded in environment.json, not in the key.
    data:       the prepared data's fingerprint (data.fingerprint), so runs on other
                photos, preparations or splits never share a cache key; "" = not bound.
    architecture: the fingerprint of the network ``model`` builds (unet.model.architecture_fingerprint),
                so a change to what the U-Net's code computes gives new runs even where no setting
                changed, while a refactor that builds the same network keeps them; "" = not bound.
                unet.runs.keyed binds it with the data.
    """

    model: ModelConfig
    epochs: int
    batch_size: int
    learning_rate: float
    split: str
    loss: str
    seed: int
    last_batch: str
    precision: str
    data: str = ""
    architecture: str = ""

    def __post_init__(self):
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", model_config_from_dict(self.model))
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and learning_rate > 0")
        if self.loss not in ("mse", "mae", "huber"):
            raise ValueError(f"loss must be 'mse', 'mae' or 'huber', got {self.loss!r}")
        if self.last_batch not in ("fill", "partial"):
            raise ValueError(f"last_batch must be 'fill' or 'partial', got {self.last_batch!r}")
        if self.precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(f"precision must be 'auto', 'float32' or 'bfloat16', got {self.precision!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """A short stable hash of what determines the result (all but precision): the cache key."""
        values = {k: v for k, v in self.to_dict().items() if k not in UNKEYED}
        text = json.dumps(values, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    def run_name(self) -> str:
        """Readable and unique: e.g. 'bs64-lr0.0001-split80_20-e100-rgb-s42-<hash>'."""
        return (
            f"bs{self.batch_size}-lr{self.learning_rate:g}-split{self.split}"
            f"-e{self.epochs}-{self.model.output}-s{self.seed}-{self.key()}"
        )


UNKEYED = ("precision",)  # execution details: they change results only by rounding


def _strict(cls, values: dict, where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid keys are {sorted(names)}")
    return cls(**values)


def model_config_from_dict(values: dict, where: str = "model config") -> ModelConfig:
    return _strict(ModelConfig, dict(values), where)


def train_config_from_dict(values: dict, where: str = "train config") -> TrainConfig:
    values = dict(values)
    if "model" in values:
        values["model"] = model_config_from_dict(values["model"], f"{where} (model)")
    return _strict(TrainConfig, values, where)


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
    """`NAME=VALUE` items (a command's --set) as a dict: each value a Python literal, or else
    a bare string; the reader of the names checks them."""
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
