"""float32 or bfloat16: chosen by measurement, not by guessing.

A run's `precision` setting is "auto", "float32" or "bfloat16" (Keras' mixed_bfloat16
policy: bfloat16 compute, float32 weights and loss). "auto" resolves to

    bfloat16  on a GPU (tensor cores; the published paper runs used it),
    float32   on a CPU without bfloat16 instructions (flags amx_bf16 / avx512_bf16),
    either    on a CPU with them: whichever trained a small U-Net faster in a short
              probe (bfloat16 must win by BFLOAT16_MARGIN), cached per machine and
              software versions so the probe runs once.

Precision is an execution detail like the device: it changes results only by rounding,
so it is recorded in each run's environment.json, not in the run's cache key.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np

from .reproducibility import cpu_model

SETTINGS = ("auto", "float32", "bfloat16")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
BFLOAT16_MARGIN = 1.2  # bfloat16 must train this much faster to be chosen
CACHE_ENV = "UNETCOLOR_CACHE"


@dataclass(frozen=True)
class Decision:
    precision: str  # "float32" or "bfloat16"
    reason: str


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo); empty where they cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()




def on_gpu() -> bool:
    """True when Keras' backend computes on a GPU."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].platform == "gpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    return False


def policy(precision: str) -> str:
    """The Keras dtype policy of a resolved precision."""
    return {"float32": "float32", "bfloat16": "mixed_bfloat16"}[precision]


def probe(image_size: int = 128, batch_size: int = 8, steps: int = 3) -> dict:
    """Training images/s of a small paper-style U-Net in float32 and in bfloat16, measured
    in this process after one warm-up step each (a few seconds on 2 CPU cores)."""
    from .config import ModelConfig, TrainConfig
    from .model import build_unet
    from .train import compile_model

    rng = np.random.default_rng(0)
    x = rng.random((batch_size, image_size, image_size, 1), dtype=np.float32)
    y = np.tanh(rng.standard_normal((batch_size, image_size, image_size, 3))).astype(np.float32)
    speeds = {}
    try:
        for name in ("float32", "bfloat16"):
            keras.mixed_precision.set_global_policy(policy(name))
            model = compile_model(build_unet(ModelConfig(image_size=image_size, filters=(32, 64, 128, 256, 256, 256))),
                                  TrainConfig())
            model.train_on_batch(x, y)
            started = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(x, y)
            speeds[name] = steps * batch_size / (time.perf_counter() - started)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return speeds


def _cache_file() -> Path:
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "unetcolor")
    return root / "precision-probe.json"


def _machine_key() -> str:
    from .reproducibility import environment_info

    info = environment_info()
    software = [f"{name}={info[name]}" for name in ("keras_backend", "keras", "tensorflow", "tensorflow-cpu", "jax")
                if name in info]
    flags = sorted(cpu_flags() & set(BF16_FLAGS))
    return "|".join([cpu_model(), str(os.cpu_count()), ",".join(flags), *software])


def measured_speeds() -> tuple[dict, bool]:
    """(images/s per precision, whether they came from the cache) for this machine."""
    path, key = _cache_file(), _machine_key()
    cached = json.loads(path.read_text()) if path.is_file() else {}
    if key in cached:
        return cached[key], True
    speeds = probe()
    cached[key] = speeds
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(cached, indent=2))
    os.replace(temporary, path)
    return speeds, False


def resolve(setting: str = "auto") -> Decision:
    """The precision a run uses on this machine, and why."""
    if setting not in SETTINGS:
        raise ValueError(f"precision must be one of {SETTINGS}, got {setting!r}")
    if setting != "auto":
        return Decision(setting, f"asked for {setting}")
    if on_gpu():
        return Decision("bfloat16", "auto: a GPU computes bfloat16 on its tensor cores")
    flags = cpu_flags() & set(BF16_FLAGS)
    if not flags:
        return Decision("float32", f"auto: this CPU ({cpu_model()}) has no bfloat16 instructions "
                                   f"({' or '.join(BF16_FLAGS)}), so bfloat16 would only be emulated")
    speeds, cached = measured_speeds()
    ratio = speeds["bfloat16"] / speeds["float32"]
    chosen = "bfloat16" if ratio >= BFLOAT16_MARGIN else "float32"
    return Decision(chosen, f"auto: this CPU has {', '.join(sorted(flags))}; a probe{' (cached)' if cached else ''} "
                            f"trained {speeds['float32']:.2f} images/s in float32 and {speeds['bfloat16']:.2f} in "
                            f"bfloat16 ({ratio:.2f}x; bfloat16 is chosen from {BFLOAT16_MARGIN}x)")


def apply(decision: Decision) -> None:
    keras.mixed_precision.set_global_policy(policy(decision.precision))


def as_record(decision: Decision) -> dict:
    return {f"precision{'' if k == 'precision' else '_' + k}": v for k, v in asdict(decision).items()}
