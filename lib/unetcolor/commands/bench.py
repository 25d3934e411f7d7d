"""Speed benchmarks (`make bench`), written to reports/bench/<machine key>.json.

    data       preparing photos
    training   the paper U-Net's images/s and GFLOP/s: the project's loop against a bare model.fit
    recipes    training images/s of each shipped colorizer's recipe
    colorize   one 12-megapixel photo end to end, 256x256 images/s, and the `colorize` command on folders
    shipped    the same for the packaged colorizers, with how far the two precisions' outputs differ
    hints      one update of the hints colorizer

Each figure, in float32 and bfloat16 (mixed_bfloat16) with their repeats interleaved, is the median of
--repeats repeats of at least --seconds of work after warm-up."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from .. import color, colorizers, paths, profiles, shipped
from ..colorizers import hints
from ..colorizers.bins import BinsHead
from ..colorizers.training import FlipBatches
from ..config import ModelConfig
from ..evaluation import predict
from ..files import write_json
from ..photos import data, samples
from ..reproducibility import cpu_model, environment_info, machine_key, seed_everything, usable_cores
from ..training.train import ColorizationBatches, compile_model
from ..unet import precision
from ..unet.model import build_unet, conv_flops
from ..unet.speed import POLICIES, cpu_flags, measure, measure_each, with_policy

PRECISIONS = ("float32", "bfloat16")
CPU_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16")  # what decides whether bfloat16 can pay on a CPU
# the output layers a model trained under mixed_bfloat16 keeps in float32, and the decoding layers after them
FLOAT32_LAYERS = ("color", "ab_logits")
FLOAT32_LAYER_TYPES = ("InputLayer", "Rescaling", "Softmax", "Dense")
PARTS = ("data", "training", "recipes", "colorize", "shipped", "hints")
# the folders bench_colorize_folders times: name -> ((height, width), photos)
FOLDERS = {"3mp": ((1500, 2000), 12), "12mp": ((3000, 4000), 6)}


def seconds_per_item(figure: dict) -> dict:
    """A rate figure as seconds per item (per repeat, and the median: 1/median rate)."""
    return {"median": 1.0 / figure["median"], "per_repeat": [1.0 / rate for rate in figure["rates"]],
            "seconds": figure["seconds"], "items": figure["items"], "repeats": figure["repeats"]}


def speedup(figures: dict, key: str | None = None, lower_is_better: bool = False) -> float:
    """bfloat16 over float32 of a {precision: figure} (or {precision: {key: figure}}) pair."""
    f32, bf16 = ((figures[name] if key is None else figures[name][key])["median"] for name in PRECISIONS)
    return f32 / bf16 if lower_is_better else bf16 / f32


def in_precision(model: keras.Model, name: str) -> keras.Model:
    """``model`` computing in ``name``: for bfloat16 a mixed_bfloat16 copy, same weights, FLOAT32_LAYERS in float32."""
    if name == "float32":
        return model
    copy = with_policy(model, POLICIES[name], lambda layer: layer.name in FLOAT32_LAYERS
                       or type(layer).__name__ in FLOAT32_LAYER_TYPES)
    copy.set_weights(model.get_weights())
    return copy


class FitRunner:
    """A ``measure`` run for training: each call is one model.fit epoch of batches(steps), as many steps
    as the remaining time needs at the step time seen so far (one for a warm-up call)."""

    def __init__(self, model: keras.Model, batches: Callable[[int], object], batch_size: int):
        self.model, self.batches, self.batch_size = model, batches, batch_size
        self.step_seconds: float | None = None
        self.calls: list[tuple[int, float]] = []  # (steps, seconds) of each call

    def __call__(self, remaining: float | None) -> int:
        steps = 1 if remaining is None or self.step_seconds is None else max(
            1, math.ceil(remaining * 1.02 / self.step_seconds))
        batches = self.batches(steps)
        arrays = isinstance(batches, tuple)  # (x, y), else a PyDataset
        started = time.perf_counter()
        self.model.fit(*(batches if arrays else [batches]), batch_size=self.batch_size if arrays else None,
                       epochs=1, shuffle=False, verbose=0)
        seconds = time.perf_counter() - started
        self.calls.append((steps, seconds))
        self.step_seconds = seconds / steps
        return steps * self.batch_size


class Cycled(keras.utils.PyDataset):
    """``steps`` batches, batch i being inner[i % len(inner)]."""

    def __init__(self, inner: keras.utils.PyDataset, steps: int):
        super().__init__(workers=getattr(inner, "workers", 1), use_multiprocessing=False)
        self.inner, self.steps = inner, steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return self.inner[index % len(self.inner)]


def load_average() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def bench_training(seconds: float = 20, repeats: int = 3, batch_size: int = 16, image_size: int = 256,
                   workers: int = 1, model_config: ModelConfig | None = None, pool_batches: int = 4) -> dict:
    """Project loop vs bare fit of the paper model (or model_config) on a pool of random batches."""
    pool = pool_batches * batch_size
    rgb = np.random.default_rng(0).integers(0, 256, size=(pool, image_size, image_size, 3), dtype=np.uint8)
    gray = color.rgb_to_gray(rgb)
    x, y = color.gray_to_input(gray), color.rgb_to_target(rgb)
    paper = profiles.load("paper").main
    model_config = model_config or dataclasses.replace(paper.model, image_size=image_size)
    config = dataclasses.replace(paper, model=model_config, batch_size=batch_size)

    def bare(steps):
        take = np.arange(steps * batch_size) % pool
        return x[take], y[take]

    methods = {"bare_fit": bare, "project_loop": lambda steps: ColorizationBatches(
        gray, rgb, np.arange(steps * batch_size) % pool, batch_size, shuffle=False, workers=workers)}
    gflop = 3 * conv_flops(build_unet(model_config)) / 1e9  # forward and backward, per image
    runs = {}
    for name in PRECISIONS:
        for method, batches in methods.items():
            with precision.computing(name):
                seed_everything(0)
                runs[name, method] = FitRunner(compile_model(build_unet(model_config), config), batches, batch_size)
    results = {}
    for (name, method), figure in measure_each(runs, seconds, repeats, warmup=2).items():
        print(f"training {name} {method}: {figure['median']:.3f} images/s", flush=True)
        results.setdefault(name, {})[method] = figure
    for figures in results.values():
        loop, bare_fit = figures["project_loop"]["median"], figures["bare_fit"]["median"]
        figures.update(project_to_bare_ratio=loop / bare_fit, project_loop_gflop_per_s=loop * gflop)
    float32 = results["float32"]
    return {  # the keys earlier versions wrote, float32
        **{f"{method}_images_per_s": float32[method]["median"] for method in methods},
        "training_gflop_per_image": gflop, "project_loop_gflop_per_s": float32["project_loop_gflop_per_s"],
        "project_to_bare_ratio": float32["project_to_bare_ratio"], "batch_size": batch_size, "image_size": image_size,
        "steps": int(statistics.median(float32["project_loop"]["items"]) // batch_size),  # per repeat
        **results, "bfloat16_speedup": {method: speedup(results, method) for method in methods}}


def recipe_head(name: str):
    """(RecipeConfig, Head) of a shipped recipe; a bins head gets its shipped file's bins where recorded."""
    config = colorizers.recipe(name)
    record_path = colorizers.SHIPPED_DIR / f"{name}.json"
    if config.head == "bins" and record_path.is_file():
        bins = json.loads(record_path.read_text())["bins"]
        return config, BinsHead(config, bins["centers"], bins["rebalancing_weights"])
    size = config.model.image_size
    ab = np.random.default_rng(1).uniform(-0.5, 0.5, size=(8, size, size, 2)).astype(np.float32)
    return config, colorizers.head_for(config, ab)


def bench_recipes(names=shipped.AUTOMATIC_NAMES, seconds: float = 20, repeats: int = 3,
                  pool_batches: int = 16, recipes: dict | None = None) -> dict:
    """Training images/s of each shipped recipe's model (or recipes': name -> (RecipeConfig, Head))."""
    results = {}
    for name in names:
        config, head = (recipes or {}).get(name) or recipe_head(name)
        size, batch_size = config.model.image_size, config.batch_size
        rng = np.random.default_rng(0)
        x = rng.random((pool_batches * batch_size, size, size, 1), dtype=np.float32)
        y = np.tanh(rng.standard_normal((pool_batches * batch_size, size, size, 2))).astype(np.float32) * 0.5
        pool = FlipBatches(x, y, batch_size, config.seed, config.flips)
        runs = {}
        for name_ in PRECISIONS:
            with precision.computing(name_):
                seed_everything(config.seed)
                model = head.build()
                head.compile(model, lambda config=config: keras.optimizers.schedules.CosineDecay(
                    config.learning_rate, decay_steps=100_000, alpha=config.final_learning_rate_share))
                runs[name_] = FitRunner(model, lambda steps, pool=pool: Cycled(pool, steps), batch_size)
        figures = measure_each(runs, seconds, repeats, warmup=2)
        for name_, figure in figures.items():
            print(f"recipe {name} {name_}: {figure['median']:.1f} images/s", flush=True)
        results[name] = {"head": config.head, "image_size": size, "batch_size": batch_size, **figures,
                         "bfloat16_speedup": speedup(figures)}
    return results


def _photo_and_batch_figures(model, photo: np.ndarray, batch_work, batch_key: str, output, seconds: float,
                             repeats: int, label: str, rate: str) -> dict:
    """Per precision the seconds of one colorize_photo of photo and the items/s of batch_work(model) (printed after
    label, in the format rate); their float32 medians, bfloat16 speed-ups and how far output(model) differs."""
    computing = {name: in_precision(model, name) for name in PRECISIONS}
    photos = measure_each({name: lambda _, m=m: (predict.colorize_photo(m, photo), 1)[1]
                           for name, m in computing.items()}, seconds, repeats)
    batches = measure_each({name: lambda _, m=m: batch_work(m) for name, m in computing.items()}, seconds, repeats)
    figures = {}
    for name in PRECISIONS:
        figures[name] = {"colorize_12mp_seconds": seconds_per_item(photos[name]), batch_key: batches[name]}
        print(f"{label} {name}: {figures[name]['colorize_12mp_seconds']['median']:.3f} s per 12 MP photo, "
              + rate.format(batches[name]["median"]), flush=True)
    difference = np.abs(np.subtract(*(output(computing[name]).astype(np.int16) for name in PRECISIONS)))
    mse = float(np.mean(difference.astype(np.float64) ** 2))
    return {"colorize_12mp_seconds": figures["float32"]["colorize_12mp_seconds"]["median"],
            batch_key: figures["float32"][batch_key]["median"], **figures,
            "bfloat16_speedup": {"colorize_12mp": speedup(figures, "colorize_12mp_seconds", lower_is_better=True),
                                 batch_key.rsplit("_", 3)[0]: speedup(figures, batch_key)},
            "bfloat16_vs_float32_output": {
                "mean_abs_difference": float(difference.mean()), "max_abs_difference": int(difference.max()),
                "psnr_db": float("inf") if mse == 0 else 10 * math.log10(255**2 / mse)}}


def bench_colorize(megapixels_shape=(3000, 4000), batch: int = 16, seconds: float = 20, repeats: int = 3) -> dict:
    """Paper U-Net (random weights): seconds for one 12 MP photo, and 256x256 images/s."""
    seed_everything(0)
    model = build_unet(profiles.load("paper").model)
    size = model.input_shape[1]
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(*megapixels_shape, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, size=(batch, size, size), dtype=np.uint8)
    return {"photo_shape": list(megapixels_shape), "batch_size": batch, **_photo_and_batch_figures(
        model, photo, lambda m: len(predict.predict_batch(m, gray, batch_size=batch)), "inference_256_images_per_s",
        lambda m: predict.colorize_photo(m, photo), seconds, repeats, "colorize",
        f"{{:.2f}} images/s at {size}x{size}")}


def gradient_photos(folder: Path, count: int, shape: tuple[int, int], seed: int = 0) -> list[Path]:
    """count noisy colour-gradient JPEG photos of shape (height, width) in folder."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(0, 1, shape[0], dtype=np.float32)[:, None, None]
    columns = np.linspace(0, 1, shape[1], dtype=np.float32)[None, :, None]
    folder.mkdir(parents=True, exist_ok=True)
    frequencies = np.arange(2, 5, dtype=np.float32)  # per channel, across the photo
    written = [folder / f"photo_{index:03d}.jpg" for index in range(count)]
    for index, path in enumerate(written):
        phases = rng.uniform(0, 2 * np.pi, 3)
        photo = 128 + 100 * np.sin(columns * frequencies + rows * (1 + index % 3) + phases)
        photo += rng.normal(0, 12, (*shape, 3)).astype(np.float32)
        Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8)).save(path, quality=90)
    return written


def bench_colorize_folders(model: keras.Model | None = None, folders: dict = FOLDERS, repeats: int = 3,
                           batch_size: int = 8, workers: int | None = None) -> dict:
    """Photos/s of predict.colorize_paths on generated photos, per folder size, and the model's share of it."""
    model = model or predict.load_model(predict.packaged_model_path(shipped.DEFAULT.name))
    workers = workers or predict.default_workers()
    options = {"progress": False, "batch_size": batch_size, "workers": workers}
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for seed, (name, (shape, count)) in enumerate(folders.items()):
            gradient_photos(scratch / name, count, shape, seed=seed)
        predict.colorize_paths(model, [scratch / next(iter(folders))], scratch / "warm-up", **options)
        for name, (shape, count) in folders.items():
            walls, shares = [], []
            for _ in range(repeats):
                with tempfile.TemporaryDirectory(dir=scratch) as out:  # a fresh output folder each repeat
                    run = predict.colorize_paths(model, [scratch / name], out, **options)
                if run.count(predict.DONE) != count:
                    raise RuntimeError(f"colorize did {run.count(predict.DONE)} of {count} photos: "
                                       + "; ".join(str(r.error) for r in run.results if r.error))
                walls.append(run.wall_seconds)
                shares.append(run.model_seconds / run.wall_seconds)
            rates = [count / wall for wall in walls]
            results[name] = {"photo_shape": list(shape), "photos": count, "photos_per_s": statistics.median(rates),
                             "model_share_of_wall_time": statistics.median(shares), "rates": rates,
                             "model_shares": shares, "wall_seconds": walls}
            print(f"colorize folder {name}: {results[name]['photos_per_s']:.3f} photos/s, "
                  f"{100 * results[name]['model_share_of_wall_time']:.0f}% of the time in the model", flush=True)
    return {"model": shipped.DEFAULT.name, "batch_size": batch_size, "workers": workers, "output": "png",
            "repeats": repeats, **results}


def bench_shipped(megapixels_shape=(3000, 4000), photos: int = 32, seconds: float = 20, repeats: int = 3,
                  models: dict | None = None) -> dict:
    """Per packaged colorizer (or models' name -> model): s per 12 MP photo, 256x256 photos/s, output difference."""
    if models is None:
        models = {model.name: predict.load_model(predict.packaged_model_path(model.name)) for model in shipped.AUTOMATIC
                  if predict.packaged_model_path(model.name).is_file()}
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=megapixels_shape, dtype=np.uint8)
    small = list(rng.integers(0, 256, size=(photos, 256, 256), dtype=np.uint8))
    return {name: _photo_and_batch_figures(
        model, photo, lambda m: len(list(predict.colorize_photos(m, small))), "colorize_256_photos_per_s",
        lambda m: np.stack(list(predict.colorize_photos(m, small))), seconds, repeats,
        f"shipped {name}", "{:.1f} photos/s at 256x256") for name, model in models.items()}


def bench_hints(shape=(866, 1155), count: int = 10, repeats: int = 15) -> dict:
    """Seconds for one end-to-end update of the shipped hints colorizer on a photo of `shape` with count hints."""
    path = predict.packaged_model_path(shipped.HINTS.name)
    model, spread = predict.load_model(path), hints.recorded_spread(path)
    rng = np.random.default_rng(0)
    photo = np.asarray(Image.fromarray(rng.integers(0, 256, (shape[0] // 8, shape[1] // 8, 3), dtype=np.uint8))
                       .resize(shape[::-1], Image.Resampling.BICUBIC))
    given = hints.random_hints(photo, count, rng)
    # one warm-up, then one timed update per repeat
    times = measure(lambda _: (hints.colorize(model, photo, given, **spread), 1)[1], 0, repeats)["seconds"]
    quartiles = statistics.quantiles(times, n=4)
    megapixels = shape[0] * shape[1] / 1e6
    print(f"hints: one update of a {megapixels:.1f} MP photo with {count} hints: "
          f"{statistics.median(times):.3f} s (median of {repeats})", flush=True)
    return {"megapixels": megapixels, "hints": count, "repeats": repeats,
            "update_seconds": {"median": statistics.median(times), "q1": quartiles[0], "q3": quartiles[2],
                               "min": min(times), "max": max(times)}}


def bench_data(source: Path | None, seconds: float = 20, repeats: int = 3) -> dict:
    """Seconds to prepare `source` (a photo folder) into a fresh temporary folder each time."""
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if source is None or not source.is_dir():
            source = scratch / "photos"
            samples.write_sample_photos(source, count=200, size=256, seed=0)
        reports = []

        def prepare(_):
            reports.append(data.prepare_dataset([source], Path(tempfile.mkdtemp(dir=scratch)) / "prepared",
                                                progress=False))
            return 1

        figure = seconds_per_item(measure(prepare, seconds, repeats, warmup=0))
    return {"data_source": paths.relative(source), "data_files": int(len(reports[-1])),
            "data_kept": int((reports[-1]["status"] == "kept").sum()), "data_prepare_seconds": figure["median"],
            "data_prepare": figure}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports/bench", help="folder for <machine key>.json")
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR") or "../shared/data/landscapes256",
                        help="photo folder to time preparation on (default: the stand-in set when present)")
    parser.add_argument("--batch-size", type=int, default=16, help="the paper U-Net's training batch")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure (the median is reported)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per repeat, at least")
    parser.add_argument("--training-seconds", type=float, help="--seconds of the training part (default: --seconds)")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    args = parser.parse_args(argv)
    seconds, repeats, training_seconds = args.seconds, args.repeats, args.training_seconds or args.seconds
    flags, here = cpu_flags(), precision.resolve("auto", profiles.load("paper").main)  # "auto" for the main run
    results = {"machine": platform.node(), "environment": environment_info(),
               "cpu": {"model": cpu_model(), "cores": os.cpu_count(), "cores_usable": usable_cores(),
                       "flags": {flag: flag in flags for flag in CPU_FLAGS}},
               "precision": {"auto": dataclasses.asdict(here)},
               "method": {"statistic": "per figure, the median of its repeats (each at least its part's measured "
                                       "seconds, after untimed warm-ups), the compared figures' repeats interleaved",
                          "bfloat16": "Keras' mixed_bfloat16 policy, measured in the same process as float32"}}
    print(json.dumps({key: results[key] for key in ("cpu", "precision")}, indent=1), flush=True)
    benches = {
        "data": lambda: bench_data(paths.resolve(args.data_dir), seconds, repeats),
        "training": lambda: bench_training(training_seconds, repeats, batch_size=args.batch_size),
        "recipes": lambda: bench_recipes(seconds=seconds, repeats=repeats),
        "colorize": lambda: {**bench_colorize(seconds=seconds, repeats=repeats),
                             "folders": bench_colorize_folders(repeats=repeats)},
        "shipped": lambda: bench_shipped(seconds=seconds, repeats=repeats), "hints": bench_hints}
    for part in [part for part in PARTS if part in (args.only or PARTS)]:
        before, part_started = load_average(), time.perf_counter()
        results[part] = benches[part]()
        results[part]["measured"] = {  # how it was measured, per part (a later --only run may refresh some parts)
            "repeats": repeats, "seconds_per_repeat": training_seconds if part == "training" else seconds,
            "wall_seconds": time.perf_counter() - part_started, "load_average_before": before,
            "load_average_after": load_average()}
        if part == "data":
            print(json.dumps({k: v for k, v in results["data"].items() if k != "data_prepare"}), flush=True)
    target = paths.resolve(args.out) / f"{machine_key()}.json"  # one record per machine
    if target.is_file() and args.only:  # --only refreshes some parts and keeps the others
        results = {**json.loads(target.read_text()), **results}
    write_json(target, results)  # whole or not at all
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
