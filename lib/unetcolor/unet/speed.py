"""How fast this machine trains and runs a model: ``measure_each`` (interleaved repeats) and ``model_speed``
(a TrainConfig's U-Net per precision, cached in $UNETCOLOR_CACHE or ~/.cache/unetcolor/speed.json)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from ..config import TrainConfig
from ..files import write_json
from ..reproducibility import cpu_model, device_description, environment_info
from .model import build_unet

CACHE_ENV = "UNETCOLOR_CACHE"
CACHE_FILE = "speed.json"
CACHE_VERSION = 1
PROBE_BATCH = 8  # on a CPU: photos per measured step (a GPU measures the run's own batch)
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def measure_each(runs: dict[str, Callable[[float | None], int]], seconds: float, repeats: int = 3,
                 warmup: int = 1, clock: Callable[[], float] = time.perf_counter) -> dict[str, dict]:
    """Per run {"median", "rates", "seconds", "items", "repeats", "spread", "warmup_seconds"} of ``repeats``
    interleaved repeats after ``warmup`` untimed calls; run(remaining seconds or None) returns the items it did."""
    if repeats < 1 or seconds < 0:
        raise ValueError(f"repeats must be >= 1 and seconds >= 0, got {repeats} and {seconds}")
    warmups = {}
    for name, run in runs.items():
        started = clock()
        for _ in range(warmup):
            run(None)
        warmups[name] = clock() - started
    figures = {name: {"rates": [], "seconds": [], "items": []} for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            items, started, elapsed = 0, clock(), 0.0
            while not items or elapsed < seconds:
                items += run(max(seconds - elapsed, 0.0))
                elapsed = clock() - started
            figures[name]["rates"].append(items / elapsed)
            figures[name]["seconds"].append(elapsed)
            figures[name]["items"].append(items)
    return {name: {"median": float(statistics.median(figure["rates"])), **figure, "repeats": repeats,
                   "spread": [float(min(figure["rates"])), float(max(figure["rates"]))],
                   "warmup_seconds": warmups[name]}
            for name, figure in figures.items()}


def measure(run: Callable[[float | None], int], seconds: float, repeats: int = 3, warmup: int = 1,
            clock: Callable[[], float] = time.perf_counter) -> dict:
    """``measure_each`` of one run."""
    return measure_each({"run": run}, seconds, repeats, warmup, clock)["run"]


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where they cannot be read."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return set()
    return next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())


def on_gpu() -> bool:
    """True when Keras' backend computes on a GPU: JAX's devices are 'gpu: ...', TensorFlow lists its GPUs."""
    described = device_description()
    return described.startswith("gpu:") or (keras.backend.backend() == "tensorflow" and described != "cpu")


def probe_batch(config: TrainConfig) -> int:
    """The batch a measurement uses: the run's own on a GPU, at most PROBE_BATCH on a CPU."""
    return config.batch_size if on_gpu() else min(config.batch_size, PROBE_BATCH)


def machine_key() -> str:
    """What makes two machines measure alike: CPU, cores, bfloat16 flags, backend, device, libraries."""
    info = environment_info()
    software = [f"{name}={info[name]}" for name in ("keras_backend", "keras", "tensorflow", "tensorflow-cpu", "jax")
                if name in info]
    flags = ",".join(sorted(cpu_flags() & set(BF16_FLAGS)))
    return "|".join([cpu_model(), str(os.cpu_count()), flags, device_description(), *software])


def model_key(config: TrainConfig, batch: int) -> str:
    # a colorizer recipe's U-Net (no loss setting) is measured under MSE: the same work but for the loss
    model = json.dumps({"model": dataclasses.asdict(config.model), "loss": getattr(config, "loss", "mse"),
                        "batch": batch}, sort_keys=True, default=list)
    return hashlib.sha256(model.encode()).hexdigest()[:12]


def _cache_path() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "unetcolor") / CACHE_FILE


def _read_cache() -> dict:
    try:
        cached = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return cached if cached.get("version") == CACHE_VERSION else {}


def with_policy(model: keras.Model, policy: str, keep=lambda layer: False) -> keras.Model:
    """A clone of model (fresh weights) computing under dtype policy ``policy`` but for the layers ``keep`` names."""
    def clone(layer):
        settings = layer.get_config()
        if not keep(layer):
            settings["dtype"] = policy
        return type(layer).from_config(settings)

    return keras.models.clone_model(model, clone_function=clone)


def built_in(config: TrainConfig, name: str) -> keras.Model:
    """config's U-Net computing in precision ``name``, the policy set on each layer (not globally)."""
    model = build_unet(config.model)
    if POLICIES[name] == "float32":
        return model
    outputs = {tensor._keras_history.operation.name for tensor in model.outputs}
    return with_policy(model, POLICIES[name], lambda layer: layer.name in outputs)


def model_speed(config: TrainConfig, precisions=("float32", "bfloat16"), seconds: float = 2.0,
                repeats: int = 3) -> dict:
    """Images/s of config's U-Net here per precision ({"float32": {"train", "predict", "batch", "device",
    "measured_with", "measured_seconds"}, ..., "batch", "cached"}); uncached precisions are measured, interleaved."""
    batch = probe_batch(config)
    machine, model = machine_key(), model_key(config, batch)
    known = _read_cache().get(machine, {}).get(model, {})
    wanted = [name for name in precisions if name not in known]
    if wanted:
        rng = np.random.default_rng(0)  # random photo-shaped data
        size, channels = config.model.image_size, 3 if config.model.output == "rgb" else 2
        x = rng.random((batch, size, size, 1), dtype=np.float32)
        y = np.tanh(rng.standard_normal((batch, size, size, channels))).astype(np.float32)
        runs = {}
        for name in wanted:
            unet = built_in(config, name)
            unet.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=getattr(config, "loss", "mse"))
            runs["train", name] = lambda remaining, unet=unet: unet.train_on_batch(x, y) is None or batch
            runs["predict", name] = lambda remaining, unet=unet: unet.predict_on_batch(x) is None or batch
        started = time.perf_counter()
        measured = measure_each(runs, seconds, repeats)
        taken = round(time.perf_counter() - started, 1)
        new = {name: {"train": measured["train", name], "predict": measured["predict", name], "batch": batch,
                      "device": device_description(), "measured_with": sorted(wanted), "measured_seconds": taken}
               for name in wanted}
        cached = _read_cache()  # another process may have written meanwhile
        cached.setdefault(machine, {}).setdefault(model, {}).update(new)
        write_json(_cache_path(), {**cached, "version": CACHE_VERSION}, indent=1, sort_keys=True)
        known = {**known, **new}
    return {**{name: known[name] for name in precisions}, "batch": batch, "cached": not wanted}


def describe(figure: dict) -> str:
    """'3.71 images/s (3.52-3.80 over 3 repeats)'."""
    low, high = figure["spread"]
    return f"{figure['median']:.3g} images/s ({low:.3g}-{high:.3g} over {figure['repeats']} repeats)"
