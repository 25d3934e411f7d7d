"""Speed benchmarks (`make bench`): numbers written to reports/bench/<machine>.json.

    data       preparing photos (the stand-in dataset when present, else sample crops)
    training   images/s and achieved GFLOP/s of the paper's U-Net: the project's
               loop (ColorizationBatches + fit) against a bare model.fit on
               in-memory float arrays of the same model
    colorize   one 12-megapixel photo end to end, and 256x256 images/s (paper U-Net)
    shipped    the same for the packaged colorizers (default, vivid, gan)

Training timings are the second epoch of a two-epoch fit (the first pays for
tracing and compiling). Run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from . import color, paths
from .config import ModelConfig, TrainConfig
from .model import build_unet, conv_flops
from .reproducibility import environment_info, seed_everything


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch of one fit call."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)


def _timed_fit(model, inputs, images_per_epoch: int, batch_size: int, targets=None) -> float:
    """Seconds per image of the second epoch of a two-epoch model.fit: the first
    epoch pays for tracing and compiling, which a real run pays once."""
    timer = EpochTimer()
    if targets is None:  # a PyDataset: the project's loop
        model.fit(inputs, epochs=2, shuffle=False, verbose=0, callbacks=[timer])
    else:
        model.fit(inputs, targets, batch_size=batch_size, epochs=2, shuffle=True, verbose=0, callbacks=[timer])
    return timer.seconds[1] / images_per_epoch


def bench_training(steps: int = 3, batch_size: int = 16, image_size: int = 256, workers: int = 1) -> dict:
    """Project loop vs bare fit, paper model, `steps` batches each (same random photos-shaped data)."""
    from .train import ColorizationBatches, compile_model

    rng = np.random.default_rng(0)
    count = steps * batch_size
    rgb = rng.integers(0, 256, size=(count, image_size, image_size, 3), dtype=np.uint8)
    gray = color.rgb_to_gray(rgb)
    config = TrainConfig(model=ModelConfig(image_size=image_size), batch_size=batch_size)
    results = {}
    for name in ("bare_fit", "project_loop"):
        seed_everything(0)
        model = compile_model(build_unet(config.model), config)
        if name == "bare_fit":
            seconds = _timed_fit(model, color.gray_to_input(gray), count, batch_size, color.rgb_to_target(rgb))
        else:
            batches = ColorizationBatches(gray, rgb, np.arange(count), batch_size, workers=workers)
            seconds = _timed_fit(model, batches, count, batch_size)
        results[f"{name}_images_per_s"] = 1.0 / seconds
    flops = conv_flops(build_unet(config.model))
    results["training_gflop_per_image"] = 3 * flops / 1e9
    results["project_loop_gflop_per_s"] = results["project_loop_images_per_s"] * 3 * flops / 1e9
    results["project_to_bare_ratio"] = results["project_loop_images_per_s"] / results["bare_fit_images_per_s"]
    results.update(batch_size=batch_size, steps=steps, image_size=image_size)
    return results


def bench_colorize(megapixels_shape=(3000, 4000), batch: int = 16) -> dict:
    """Seconds for one 12 MP photo (median of 3, model loaded once) and 256x256 images/s."""
    from .predict import colorize_photo, predict_batch

    model = build_unet(ModelConfig())
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(*megapixels_shape, 3), dtype=np.uint8)
    colorize_photo(model, photo[:512, :512])  # warm-up
    times = []
    for _ in range(3):
        start = time.perf_counter()
        colorize_photo(model, photo)
        times.append(time.perf_counter() - start)
    gray = rng.integers(0, 256, size=(batch, 256, 256), dtype=np.uint8)
    predict_batch(model, gray[:2], batch_size=batch)
    start = time.perf_counter()
    predict_batch(model, gray, batch_size=batch)
    return {"colorize_12mp_seconds": float(np.median(times)),
            "photo_shape": list(megapixels_shape),
            "inference_256_images_per_s": batch / (time.perf_counter() - start)}


def bench_shipped(megapixels_shape=(3000, 4000), photos: int = 32) -> dict:
    """For each packaged colorizer (weights/*.keras): seconds for one 12 MP photo (median
    of 3) and 256x256 photos/s through predict.colorize_photos, end to end."""
    from .predict import PACKAGED, colorize_photo, colorize_photos, load_model, packaged_model_path

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=megapixels_shape, dtype=np.uint8)
    small = list(rng.integers(0, 256, size=(photos, 256, 256), dtype=np.uint8))
    results = {}
    for name in PACKAGED:
        if not packaged_model_path(name).is_file():
            continue
        model = load_model(packaged_model_path(name))
        colorize_photo(model, photo[:512, :512])  # warm-up
        list(colorize_photos(model, small[:2]))
        times = []
        for _ in range(3):
            start = time.perf_counter()
            colorize_photo(model, photo)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        list(colorize_photos(model, small))
        results[name] = {"colorize_12mp_seconds": float(np.median(times)),
                         "colorize_256_photos_per_s": photos / (time.perf_counter() - start)}
    return results


def bench_data(source: Path | None) -> dict:
    """Seconds to prepare `source` (a photo folder) into a temporary folder."""
    from . import data, samples

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if source is None or not source.is_dir():
            source = scratch / "photos"
            samples.write_sample_photos(source, count=200, size=256, seed=0)
        start = time.perf_counter()
        report = data.prepare_dataset([source], scratch / "prepared", progress=False)
        seconds = time.perf_counter() - start
    return {"data_source": str(source), "data_files": int(len(report)),
            "data_kept": int((report["status"] == "kept").sum()), "data_prepare_seconds": seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m unetcolor.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports/bench", help="folder for <machine>.json")
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR") or "../shared/data/landscapes256",
                        help="photo folder to time preparation on (default: the stand-in set when present)")
    parser.add_argument("--steps", type=int, default=3, help="training batches timed per method")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--only", choices=("data", "training", "colorize", "shipped"), action="append",
                        help="run only these parts (repeatable)")
    args = parser.parse_args(argv)
    parts = args.only or ["data", "training", "colorize", "shipped"]
    results = {"machine": platform.node(), "environment": environment_info()}
    if "data" in parts:
        results["data"] = bench_data(paths.resolve(args.data_dir))
        print(json.dumps(results["data"]), flush=True)
    if "training" in parts:
        results["training"] = bench_training(steps=args.steps, batch_size=args.batch_size)
        print(json.dumps(results["training"]), flush=True)
    if "colorize" in parts:
        results["colorize"] = bench_colorize()
        print(json.dumps(results["colorize"]), flush=True)
    if "shipped" in parts:
        results["shipped"] = bench_shipped()
        print(json.dumps(results["shipped"]), flush=True)
    out = paths.resolve(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = results["environment"]["device"].replace(" ", "_").replace(":", "").replace(",", "")
    target = out / f"{results['environment']['keras_backend']}-{device}-{os.cpu_count()}cpu.json"
    if target.is_file():  # --only refreshes some parts and keeps the others
        results = {**json.loads(target.read_text()), **results}
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
