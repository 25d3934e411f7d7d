"""Colour hints: a person's "this pixel (x, y from the top left) is this colour", of which only a*, b* count.
At the model's size they are a hint map (h, w, 2) of a*, b* / 128 and a mask (h, w, 1) (Zhang et al. 2017)."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from .. import color, paths, shipped
from ..evaluation import metrics, predict
from ..files import sha256_file
from .head import Head
from .regression import compile_log_mse

COUNTS = (0, 1, 2, 5, 10, 20, 50)  # hints per photo, as measured
HEX = re.compile(r"#[0-9a-fA-F]{6}")
SPEC = re.compile(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*=\s*(\S+)\s*")
FILE_FORM = '{"x": <integer>, "y": <integer>, "color": "#RRGGBB"}'


@dataclass(frozen=True)
class Hint:
    """Pixel (x, y) of the photo, from its top-left corner, and an sRGB colour '#rrggbb'."""

    x: int
    y: int
    color: str

    def __post_init__(self):
        if not HEX.fullmatch(self.color):
            raise ValueError(f"hint {self.describe()}: the colour must be #RRGGBB (six hex digits), got {self.color!r}")

    def describe(self) -> str:
        return f"{self.x},{self.y}={self.color}"

    @property
    def ab(self) -> np.ndarray:
        """float32 (2,): the colour's a*, b* (D65)."""
        return color.rgb_to_lab(np.frombuffer(bytes.fromhex(self.color[1:]), np.uint8).reshape(1, 1, 3))[0, 0, 1:]


def parse(text: str) -> Hint:
    """'X,Y=#RRGGBB' -> Hint (ValueError naming the text and the form expected)."""
    match = SPEC.fullmatch(text)
    if match is None:
        raise ValueError(f"hint {text!r}: expected X,Y=#RRGGBB, e.g. 10,20=#3366cc")
    return Hint(int(match[1]), int(match[2]), match[3])


def read(path: str | Path) -> list[Hint]:
    """The hints of a JSON file holding a list of FILE_FORM (errors name the file and the entry at fault)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such hints file; give a JSON list of {FILE_FORM}")
    try:
        entries = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error}); give a list of {FILE_FORM}") from None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a JSON list of hints, got {type(entries).__name__}")
    hints = []
    for number, entry in enumerate(entries, 1):
        if (not isinstance(entry, dict) or set(entry) != {"x", "y", "color"} or not isinstance(entry["color"], str)
                or not all(type(entry[key]) is int for key in ("x", "y"))):  # a JSON true is no coordinate
            raise ValueError(f"{path}: hint {number} is {entry!r}; each is {FILE_FORM}")
        try:
            hints.append(Hint(**entry))
        except ValueError as error:
            raise ValueError(f"{path}: hint {number}: {error}") from None
    return hints


def check_inside(hints: list[Hint], width: int, height: int, where: str = "the photo") -> None:
    """ValueError naming the first hint outside a width x height photo."""
    for hint in hints:
        if not (0 <= hint.x < width and 0 <= hint.y < height):
            raise ValueError(f"hint {hint.describe()} lies outside {where} ({width}x{height}: "
                             f"x in 0..{width - 1}, y in 0..{height - 1})")


def to_model(hints: list[Hint], photo_size: tuple[int, int], model_size: tuple[int, int]) -> np.ndarray:
    """int (K, 2): each hint's (row, column) at model_size, the model pixel its centre falls in (sizes: (h, w))."""
    points = np.array([(hint.y, hint.x) for hint in hints], dtype=np.float64).reshape(-1, 2) + 0.5
    return np.clip(np.floor(points * np.divide(model_size, photo_size)), 0, np.subtract(model_size, 1)).astype(int)


def planes(hints: list[Hint], photo_size: tuple[int, int], model_size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """(hint map, mask) at model_size; a later hint on the same model pixel replaces an earlier one."""
    ab, mask = np.zeros((*model_size, 2), dtype=np.float32), np.zeros((*model_size, 1), dtype=np.float32)
    for (row, column), hint in zip(to_model(hints, photo_size, model_size), hints):
        ab[row, column] = hint.ab / 128.0
        mask[row, column] = 1.0
    return ab, mask


def spread(ab: np.ndarray, lightness: np.ndarray, hint_ab: np.ndarray, mask: np.ndarray,
           space: float = 0.08, tone: float = 8.0) -> np.ndarray:
    """The model's a*, b* / 128 (h, w, 2) with each hint laid over the pixels around it: a hint at p weighs
    on q by w = exp(-|p - q|² / (2 (space·side)²) - (L*(p) - L*(q))² / (2 tone²)) (side: the shorter side,
    L*: lightness), and q takes (1 - W)·model + W·(the hints' colours averaged by w), W the largest w at q.
    A hinted pixel takes its hint's colour; space <= 0 changes only those."""
    hinted = mask[..., 0] > 0
    out = np.array(ab, dtype=np.float32, copy=True)
    points = np.argwhere(hinted)
    if len(points) and space > 0:
        rows, columns = np.mgrid[0:ab.shape[0], 0:ab.shape[1]]
        width = space * min(ab.shape[:2])
        lightness = np.asarray(lightness, dtype=np.float32)
        total, strongest = np.zeros((2, *ab.shape[:2]), dtype=np.float32)
        weighted = np.zeros(ab.shape, dtype=np.float32)
        for row, column in points:
            weight = np.exp(-((rows - row) ** 2 + (columns - column) ** 2) / (2 * width ** 2)
                            - (lightness - lightness[row, column]) ** 2 / (2 * tone ** 2)).astype(np.float32)
            total += weight
            np.maximum(strongest, weight, out=strongest)
            weighted += weight[..., None] * hint_ab[row, column]
        mean = weighted / np.maximum(total, 1e-30)[..., None]
        out = out * (1 - strongest[..., None]) + mean * strongest[..., None]
    out[hinted] = hint_ab[hinted]
    return out.astype(np.float32)


def reveal(ab: np.ndarray, rng: np.random.Generator, most: int, none_share: float,
           patch: int) -> tuple[np.ndarray, np.ndarray]:
    """(hint map, mask) drawn from the true a*, b* / 128 (N, h, w, 2): per photo no hint with probability
    none_share, else a log-uniform count in 1..most of squares of side 1..patch holding their mean colour."""
    count, rows, columns = ab.shape[:3]
    hint_ab, mask = np.zeros(ab.shape, dtype=np.float32), np.zeros((count, rows, columns, 1), dtype=np.float32)
    for i in range(count):
        if rng.random() < none_share:
            continue
        for _ in range(int(np.exp(rng.uniform(0, np.log(most + 1))))):
            side = int(rng.integers(1, patch + 1))
            top, left = rng.integers(0, rows - side + 1), rng.integers(0, columns - side + 1)
            square = (i, slice(top, top + side), slice(left, left + side))
            hint_ab[square] = ab[square].reshape(-1, 2).mean(axis=0)
            mask[square] = 1.0
    return hint_ab, mask


def revealed(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, settings: dict) -> np.ndarray:
    """x, gray (N, h, w, 1), with the hint planes revealed from y (a*, b* / 128) joined: (N, h, w, 4)."""
    hint_ab, mask = reveal(np.asarray(y), rng, **{key: settings[key] for key in ("most", "none_share", "patch")})
    return np.concatenate([np.asarray(x, dtype=np.float32), hint_ab, mask], axis=-1)


def recorded_spread(model_path: str | Path) -> dict:
    """The spread (space, tone) recorded in <model>.json beside a hints colorizer; {} where none is."""
    record = Path(model_path).with_suffix(".json")
    return json.loads(record.read_text()).get("spread", {}) if record.is_file() else {}


def takes_hints(model) -> bool:
    """Whether the model's input holds the hint planes: gray, hint map and mask (4 channels)."""
    return model.input_shape[-1] == 4


def colorize(model, photo: np.ndarray, hints: list[Hint], space: float = 0.08, tone: float = 8.0) -> np.ndarray:
    """uint8 RGB (H, W, 3) or gray (H, W) and hints in its pixels -> uint8 RGB (H, W, 3): the model's colours
    (given the hint planes where it takes them), the hints spread over them."""
    return finish(*predicted(model, photo, hints), space, tone)


def predicted(model, photo: np.ndarray, hints: list[Hint]) -> tuple[np.ndarray, ...]:
    """The model run once on a photo and its hints: its gray (H, W), L* of its shrunk copy, the model's a*, b* / 128
    and the hint planes; ValueError for a hint outside the photo."""
    gray = predict._gray_of(photo)
    check_inside(hints, gray.shape[1], gray.shape[0])
    size = tuple(model.input_shape[1:3])
    small = predict._shrink(gray, size)
    hint_ab, mask = planes(hints, gray.shape, size)
    x = color.gray_to_input(small[None])
    if takes_hints(model):
        x = np.concatenate([x, hint_ab[None], mask[None]], axis=-1)
    output = np.asarray(model(x, training=False))[0]
    if output.shape[-1] == 3:  # the paper's RGB U-Net: its colour as a*, b*
        output = color.rgb_to_lab(color.output_to_rgb(output))[..., 1:] / 128.0
    return gray, predict._lightness_of_gray(small), output, hint_ab, mask


def finish(gray, lightness, ab, hint_ab, mask, space: float, tone: float) -> np.ndarray:
    """predicted's hints spread over the model's colours, laid over the full-resolution gray: uint8 RGB (H, W, 3)."""
    ab = spread(ab, lightness, hint_ab, mask, space, tone)
    return predict.transfer_chroma(gray, color.lab_to_rgb(np.concatenate([lightness[..., None], ab * 128.0], axis=-1)))


def with_hint_inputs(model: keras.Model, dtype: str | None = None) -> keras.Model:
    """model (gray -> a*, b* / 128) rebuilt to take gray, hint map and mask (N, h, w, 4), zero weights on the hint
    planes (no hint: what model computes); dtype: the policy of the layers up to the last convolution (None: own)."""
    if model.input_shape[-1] != 1 or model.output_shape[-1] != 2:
        raise ValueError(f"model {model.name!r} takes {model.input_shape} to {model.output_shape}; hint inputs are "
                         "added to an L*a*b* colorizer, gray (N, h, w, 1) to a*, b* (N, h, w, 2)")
    convolutions = [i for i, layer in enumerate(model.layers) if isinstance(layer, keras.layers.Conv2D)]
    recast = {layer.name for layer in model.layers[:convolutions[-1] + 1]} if dtype and convolutions else set()

    def clone(layer):
        return layer.__class__.from_config({**layer.get_config(), **({"dtype": dtype} if layer.name in recast else {})})

    wide = keras.models.clone_model(model, input_tensors=keras.Input((*model.input_shape[1:3], 4), name="gray_hints"),
                                    clone_function=clone)
    for old, new in zip(model.layers, wide.layers):  # a kernel that now sees the 3 hint planes too: zeros for them
        new.set_weights([np.pad(value, [(0, 0)] * (value.ndim - 2) + [(0, target.shape[-2] - value.shape[-2]), (0, 0)])
                         if value.shape != tuple(target.shape) else value
                         for value, target in zip(old.get_weights(), new.weights)])
    return wide


def random_hints(photo: np.ndarray, count: int, rng: np.random.Generator) -> list[Hint]:
    """count hints at random pixels of a uint8 RGB photo (H, W, 3), each holding that pixel's colour."""
    rows, columns = rng.integers(0, photo.shape[0], count), rng.integers(0, photo.shape[1], count)
    return [Hint(int(x), int(y), "#%02x%02x%02x" % tuple(int(v) for v in photo[y, x])) for y, x in zip(rows, columns)]


def hint_sets(photos: np.ndarray, counts=COUNTS, seed: int = 0) -> dict[int, list[list[Hint]]]:
    """count -> one list of random_hints per photo, drawn from (seed, count, photo)."""
    return {count: [random_hints(photo, count, np.random.default_rng([seed, count, i]))
                    for i, photo in enumerate(photos)] for count in counts}


def choose_spread(model: keras.Model, photos: np.ndarray, spaces, tones, counts=(1, 5, 10, 50),
                  seed: int = 1) -> tuple[dict, pd.DataFrame]:
    """({"space", "tone"} with the best mean PSNR over photos and counts, the table of every pair tried)."""
    made = {count: [predicted(model, photo, given) for photo, given in zip(photos, sets)]  # the model runs once
            for count, sets in hint_sets(photos, counts, seed).items()}
    rows = []
    for space, tone in itertools.product(spaces, tones):
        psnr = {f"psnr_{count}": float(np.mean([metrics.psnr(photo, finish(*one, space, tone))
                                                for photo, one in zip(photos, made[count])])) for count in counts}
        rows.append({"space": float(space), "tone": float(tone), **psnr, "psnr_mean": float(np.mean([*psnr.values()]))})
    table = pd.DataFrame(rows)
    return {key: float(table.loc[table["psnr_mean"].idxmax(), key]) for key in ("space", "tone")}, table


def hint_curve(model: keras.Model, automatic: keras.Model, photos: np.ndarray, spread_settings: dict,
               counts=COUNTS, seed: int = 0) -> pd.DataFrame:
    """Mean PSNR, SSIM, colorfulness and pooled a*, b* AuC of model given each count of random true-colour
    hints per photo, beside the gray copy and the automatic colorizer: one row per (count, method)."""
    photos = np.asarray(photos)
    gray = color.rgb_to_gray(photos)

    def scores(rgb: np.ndarray) -> dict:
        table = metrics.evaluate_images(photos, rgb, gray).rename(columns=lambda name: name.removesuffix("_model"))
        return {**{key: table[key].mean() for key in ("psnr", "ssim", "colorfulness", "colorfulness_true")},
                "ab_auc": metrics.ab_error_auc(photos, rgb), "photos": len(photos)}

    # neither reference takes hints: scored once
    references = {"gray copy": scores(color.gray_baseline(gray)),
                  "automatic": scores(np.stack([colorize(automatic, photo, []) for photo in photos]))}
    rows = []
    for count, given in hint_sets(photos, counts, seed).items():
        hinted = np.stack([colorize(model, photo, hints, **spread_settings) for photo, hints in zip(photos, given)])
        rows.append({"hints": count, "method": "hints", **scores(hinted)})
        rows += [{"hints": count, "method": method, **values} for method, values in references.items()]
    return pd.DataFrame(rows)


class HintsHead(Head):
    """The recipe's ``start_from`` colorizer given hint inputs, fine-tuned with per-image log-MSE on batches
    revealing points of the true colour; after training, the spread is chosen and the hint curve measured."""

    kind = "hints"
    description = ("an L*a*b* colorizer's network taking gray, a hint map and its mask, fine-tuned with points of "
                   "the true colour revealed, each hint then spread over the pixels of like lightness around it; "
                   "unetcolor.colorizers.hints")
    stage = "hints"

    @property
    def base_path(self) -> Path:
        """start_from: a shipped colorizer's name, or a .keras file (relative to the project root)."""
        start = self.config.start_from  # RecipeConfig requires it of a hints recipe
        return paths.resolve(start) if start.endswith(".keras") else shipped.WEIGHTS_DIR / f"{start}.keras"

    def _network(self, dtype: str) -> keras.Model:
        network = with_hint_inputs(predict.load_model(self.base_path), dtype=dtype)
        if network.input_shape[1] != self.config.model.image_size:
            raise ValueError(f"recipe {self.config.name!r}: {paths.relative(self.base_path)} takes "
                             f"{network.input_shape[1]}x{network.input_shape[2]} images; set the recipe's "
                             f"model.image_size to {network.input_shape[1]}")
        return network

    def build(self) -> keras.Model:
        """The base's network with hint inputs, in the training precision, its batch normalization frozen."""
        network = self._network(keras.mixed_precision.global_policy().name)
        for layer in network.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
        return network

    compile = staticmethod(compile_log_mse)

    def export(self, trained, value) -> keras.Model:
        model = self._network("float32")
        model.set_weights(trained.get_weights())
        if value == 1:
            return model
        return keras.Model(model.input, layers.Rescaling(value, name="chroma_gain")(model.output), name=model.name)

    def record(self) -> dict:
        return {"base": {"file": paths.relative(self.base_path), "sha256": sha256_file(self.base_path)}}

    def after_training(self, model: keras.Model, rgb, tuning_ids, validation_ids, say=print) -> dict:
        settings = self.config.hints
        chosen, choices = choose_spread(model, np.asarray(rgb[tuning_ids]), settings["spaces"], settings["tones"])
        say(f"spread {chosen} chosen on the tuning subset", flush=True)
        curve = hint_curve(model, predict.load_model(self.base_path), np.asarray(rgb[validation_ids]), chosen)
        say(curve.round(3).to_string(index=False), flush=True)
        return {"spread": chosen, "spread_choices": choices.to_dict("records"), "hint_curve": curve.to_dict("records")}
