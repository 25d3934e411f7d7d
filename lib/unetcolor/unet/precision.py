"""float32 or bfloat16 (Keras' mixed_bfloat16 policy): a run's `precision` setting, "auto" resolved by
measuring the run's own U-Net; recorded in environment.json, not in the cache key (it only changes rounding)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import keras

from ..config import PRECISIONS as SETTINGS  # a run's precision settings
from ..config import TrainConfig
from ..reproducibility import cpu_model
from . import speed


@dataclass(frozen=True)
class Decision:
    precision: str  # "float32" or "bfloat16"
    reason: str


def resolve(setting: str, config: TrainConfig) -> Decision:
    """The precision config's run uses on this machine, and why: for "auto", float32 on a CPU without
    bfloat16 instructions, else bfloat16 only where its slowest measured repeat beats float32's fastest."""
    if setting not in SETTINGS:
        raise ValueError(f"precision must be one of {SETTINGS}, got {setting!r}")
    if setting != "auto":
        return Decision(setting, f"asked for {setting}")
    flags, gpu = speed.cpu_flags() & set(speed.BF16_FLAGS), speed.on_gpu()
    if not gpu and not flags:
        return Decision("float32", f"auto: this CPU ({cpu_model()}) has no bfloat16 instructions "
                                   f"({' or '.join(speed.BF16_FLAGS)}), so bfloat16 would only be emulated")
    measured = speed.model_speed(config)
    f32, bf16 = measured["float32"]["train"], measured["bfloat16"]["train"]
    chosen = "bfloat16" if bf16["spread"][0] > f32["spread"][1] else "float32"
    where = "a GPU" if gpu else f"this CPU, which has {', '.join(sorted(flags))}"
    return Decision(chosen, f"auto on {where}: training this model (batch {measured['batch']}) measured "
                            f"{speed.describe(f32)} in float32 and {speed.describe(bf16)} in bfloat16"
                            f"{' (cached)' if measured['cached'] else ''}; bfloat16 is chosen only when its "
                            "slowest repeat beats float32's fastest")


@contextlib.contextmanager
def computing(decision: Decision | str) -> Iterator[None]:
    """Keras' global dtype policy for decision (a Decision, or "float32" / "bfloat16") inside the block,
    restored however the block is left."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(
        speed.POLICIES[decision.precision if isinstance(decision, Decision) else decision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def as_record(decision: Decision) -> dict:
    return {"precision": decision.precision, "precision_reason": decision.reason}
