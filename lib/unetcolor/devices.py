"""Data-parallel training over several accelerators with ``keras.distribution.DataParallel`` (JAX only;
elsewhere a no-op). Build, compile and fit the model inside ``distributed(batch_size)``: Keras places a
variable when it is created. Every batch, the last included, must split evenly over the devices."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import keras


def accelerators() -> list:
    """The devices Keras would spread data-parallel work over, as "gpu:0"-like strings."""
    # only these backends load a distribution library; on the others list_devices() raises AttributeError
    if keras.backend.backend() not in ("jax", "tensorflow"):
        return []
    return list(keras.distribution.list_devices())


def data_parallel(batch_size: int) -> keras.distribution.DataParallel | None:
    """A data-parallel distribution over every accelerator, or None for one device or a backend other than
    JAX; ValueError where ``batch_size`` does not divide over the devices."""
    # numbers.Integral admits numpy integers from configs; bool is an int but never a batch size
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    devices = accelerators() if keras.backend.backend() == "jax" else []
    if len(devices) < 2:
        return None
    if batch_size % len(devices):  # else JAX fails deep inside the first step, not naming the batch size
        count, lower = len(devices), batch_size - batch_size % len(devices)
        suggestion = f"{lower} or {lower + count}" if lower else str(count)
        raise ValueError(f"batch size {batch_size} cannot be split evenly over {count} devices ({', '.join(devices)}): "
                         f"use a batch size that is a multiple of {count}, e.g. {suggestion}")
    return keras.distribution.DataParallel(devices=devices)


def describe(distribution: keras.distribution.DataParallel | None) -> str:
    """Where training runs: "data parallel over 2 gpu devices" or "one device"."""
    if distribution is None:
        return "one device"
    devices = [str(d) for d in distribution.device_mesh.devices.flat]
    return f"data parallel over {len(devices)} {'/'.join(sorted({d.split(':')[0] for d in devices}))} devices"


@contextlib.contextmanager
def distributed(batch_size: int) -> Iterator[str]:
    """Run the block data-parallel where there are several accelerators, restoring the distribution before
    it after it; yields describe()'s account."""
    distribution = data_parallel(batch_size)
    with distribution.scope() if distribution else contextlib.nullcontext():
        yield describe(distribution)
