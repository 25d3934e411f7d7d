"""Levers at colorizing time: variants of a shipped model that need no training (flips, averages,
confidence-dependent annealing), chosen by the registry's rule on its tuning subset, then scored once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from keras import layers

from .. import color, paths
from .. import shipped as shipped_models
from ..evaluation import metrics, predict
from ..files import write_json
from ..photos import data
from ..reproducibility import environment_info
from . import bins, build, decoding, registry

ROLES = ("accurate", "vivid")  # the shipped models whose open targets the levers aim at
ANNEALING = "annealing"  # the layer of a bins model whose input is its logits (bins.decoded_model)


def _mirror(tensor, name: str):
    """tensor (N, H, W, C) reversed along W: a fixed anti-identity Dense between two Permutes."""
    width = tensor.shape[2]
    reverse = layers.Dense(width, use_bias=False, trainable=False, name=f"{name}_reverse")
    rows = layers.Permute((1, 3, 2), name=f"{name}_to_rows")(tensor)
    out = layers.Permute((1, 3, 2), name=f"{name}_back")(reverse(rows))
    reverse.set_weights([np.eye(width, dtype=np.float32)[::-1]])
    return out


def mirrored(model: keras.Model) -> keras.Model:
    """model's a*, b* averaged with the mirror image of its a*, b* for the mirrored input."""
    gray = keras.Input((*predict.input_size(model), 1), name="gray")
    back = _mirror(model(_mirror(gray, "mirror_in")), "mirror_out")
    return keras.Model(gray, layers.Average(name="with_mirror")([model(gray), back]), name=f"{model.name}_flips")


def averaged(models: list[keras.Model], name: str = "average") -> keras.Model:
    """The mean of models' a*, b* at the largest of their input sizes, a smaller model's input shrunk to
    its size (bilinear, antialiased) and its output enlarged back."""
    height, width = max(predict.input_size(model) for model in models)
    gray = keras.Input((height, width, 1), name="gray")
    outputs = []
    for index, model in enumerate(models):
        size = predict.input_size(model)
        model = keras.Model(model.input, model.output, name=f"member_{index}")  # two files may share a name
        if size == (height, width):
            outputs.append(model(gray))
        else:
            small = layers.Resizing(*size, interpolation="bilinear", antialias=True, name=f"to_model_{index}")(gray)
            enlarge = layers.Resizing(height, width, interpolation="bilinear", name=f"from_model_{index}")
            outputs.append(enlarge(model(small)))
    return keras.Model(gray, layers.Average(name=name)(outputs), name=name)


def confidence_annealed(model: keras.Model, low: float, high: float) -> keras.Model:
    """A bins model (``bins.decoded_model``, any chroma offset dropped) decoded at a temperature from
    low (a confident pixel) to high (an uncertain one)."""
    try:
        logits = model.get_layer(ANNEALING).input
        centers = model.get_layer("expected_ab").get_weights()[0] * bins.AB_SCALE
    except ValueError as error:
        raise ValueError(f"model {model.name!r} is not a bins model: {error}") from None
    ab = bins.ConfidenceAnnealing(centers, low, high, name="confidence_annealing")(logits)
    return keras.Model(model.input, ab, name=f"{model.name}_confidence")


def variants(role: str, shipped: dict[str, keras.Model]) -> dict[str, keras.Model]:
    """The variants tried for shipped[role] ("accurate" or "vivid"; shipped: models by role), as shipped first."""
    model = shipped[role]
    if role not in ROLES:
        raise ValueError(f"levers are tried for the accurate and vivid models, not {role!r}")

    def annealed(*lows: float) -> dict:
        return {f"confidence temperature {low:g} to 1": confidence_annealed(model, low, 1.0) for low in lows}

    as_shipped = {"as shipped": model, "flips": mirrored(model)}
    if role == "accurate":
        with_gan = averaged([model, shipped["gan"]], name="average_with_gan")
        return {**as_shipped, **annealed(0.5, 0.38), "average with the adversarial model": with_gan,
                "average with the adversarial model, flips": mirrored(with_gan)}
    return {**as_shipped, **annealed(0.2, 0.38, 0.5),
            "average with the accurate model": averaged([model, shipped["accurate"]], name="average_with_accurate")}


def _scores(model: keras.Model, rgb: np.ndarray, gray: np.ndarray, ssim: bool) -> dict:
    colorized = decoding.colorize_all(model, gray)
    a_bias, b_bias = metrics.ab_bias(rgb, colorized)
    scores = (metrics.evaluate_images if ssim else decoding.quick_scores)(rgb, colorized, gray)
    row = {"psnr_gain": scores["psnr_model"].mean() - scores["psnr_gray"].mean(),
           "colorfulness_share": scores["colorfulness_model"].mean() / scores["colorfulness_true"].mean(),
           "a_bias": a_bias, "b_bias": b_bias}
    if ssim:
        row["ssim_gain"] = scores["ssim_model"].mean() - scores["ssim_gray"].mean()
    return row


def choose(role: str, tuning: pd.DataFrame) -> str:
    """The registry's rule for levers on a tuning table (index: variant, first row "as shipped")."""
    base = tuning.iloc[0]
    allowed = tuning if role == "accurate" else tuning[tuning["colorfulness_share"] >= base["colorfulness_share"]]
    best = allowed["psnr_gain"].idxmax()
    better = allowed.loc[best, "psnr_gain"] > base["psnr_gain"] + registry.ACCURATE_TIE_DB
    return str(best if better else tuning.index[0])


def try_levers(role: str, shipped: dict[str, keras.Model], cancel_cast: bool, tuning_photos: tuple,
               validation_photos: tuple, log=print) -> tuple[pd.DataFrame, str]:
    """(one row per variant and subset, the choice): every variant of role scored on the tuning photos (rgb, gray),
    its cast cancelled there first with cancel_cast, chosen by the rule, then scored once on the validation photos."""
    rows, models = [], {}
    for name, model in variants(role, shipped).items():
        if cancel_cast and name != "as shipped":
            model = decoding.with_chroma_offset(model, decoding.cast_correction(model, *tuning_photos))
        models[name] = model
        rows.append({"variant": name, "subset": "tuning", **_scores(model, *tuning_photos, ssim=False)})
        log(f"{role}, {name}: tuning PSNR gain {rows[-1]['psnr_gain']:+.3f} dB, "
            f"colorfulness {rows[-1]['colorfulness_share']:.1%}", flush=True)
    tuning = pd.DataFrame(rows).set_index("variant")
    chosen = choose(role, tuning)
    for name, model in models.items():  # the held-out numbers, once, after the choice
        rows.append({"variant": name, "subset": "validation", **_scores(model, *validation_photos, ssim=True)})
    return pd.DataFrame(rows).assign(model=role, chosen=lambda t: t["variant"] == chosen), chosen


def check_same_photos(record: dict, rgb_val: np.ndarray, gray_val: np.ndarray, name: str) -> None:
    """Refuse other photos than those the shipped model was scored on (by the gray copy's held-out PSNR)."""
    recorded = next(row["mean"] for row in record["validation_metrics"]
                    if row["metric"] == "psnr" and row["method"] == "gray baseline")
    measured = float(metrics.psnr_batch(rgb_val, color.gray_baseline(gray_val)).mean())
    if len(rgb_val) != record["data"]["validation"] or abs(measured - recorded) > 1e-6:
        raise ValueError(f"the prepared photos are not those {name}.keras was tuned and scored on ({len(rgb_val)} "
                         f"held-out photos, gray PSNR {measured:.6f} dB; its record: {record['data']['validation']}, "
                         f"{recorded:.6f} dB): pass the --data-dir its record names ({record['data']['source']})")


def record_levers(processed_dir: Path, out_dir: Path, weights_dir: Path, log=print) -> dict[str, Path]:
    """try_levers for each of ROLES on the shipped models in weights_dir and the photos they were trained
    on; writes out_dir/<model>.json (the table, the choice, the rule's inputs) and returns the paths."""
    names = {model.role: model.name for model in shipped_models.AUTOMATIC}
    models = {role: predict.load_model(weights_dir / f"{name}.keras") for role, name in names.items()}
    rgb, gray = data.load_arrays(processed_dir)
    written = {}
    for role in ROLES:
        name = names[role]
        record = json.loads((weights_dir / f"{name}.json").read_text())
        train_ids, val_ids = data.load_split(processed_dir, record["data"]["split"])
        validation = np.asarray(rgb[val_ids]), np.asarray(gray[val_ids])
        check_same_photos(record, *validation, name)
        tuning_ids = np.asarray(record["data"]["tuning_ids"])
        if not np.isin(tuning_ids, train_ids).all():
            raise ValueError(f"{name}.json's tuning photos are not among the training photos of split "
                             f"{record['data']['split']} in {processed_dir}")
        started = time.perf_counter()
        table, chosen = try_levers(role, models, bool(record["config"].get("bias_correction")),
                                   (np.asarray(rgb[tuning_ids]), np.asarray(gray[tuning_ids])), validation, log=log)
        written[role] = out_dir / f"{name}.json"
        write_json(written[role], {
            "model": name, "role": role, "chosen": chosen, "rule": "colorizers.registry (levers at colorizing time)",
            "tie_db": registry.ACCURATE_TIE_DB, "tuning_photos": int(len(tuning_ids)),
            "validation_photos": int(len(val_ids)), "git_commit": build.git_commit(paths.project_root()),
            "seconds": time.perf_counter() - started, "environment": environment_info(),
            "table": table.to_dict("records")})
        log(f"{name}: the rule keeps {chosen!r}", flush=True)
    return written
