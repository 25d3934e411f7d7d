"""Data-parallel training over several accelerators with ``keras.distribution.DataParallel`` (JAX only;
elsewhere a no-op). Build, compile and fit the model inside ``distributed(batch_size)``: Keras places a
variable when it is created. Every batch, the last included, must split evenly over the devices."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import keras

# Backends for which keras/src/backend/__init__.py loads a distribution library;
# on the others keras.distribution.list_devices() raises AttributeError.
_BACKENDS_WITH_DEVICE_LIST = ("jax", "tensorflow")


def accelerators() -> list:
    """The devices Keras would spread data-parallel work over, as "gpu:0"-like strings; empty where
    the backend cannot list them."""
    if keras.backend.backend() not in _BACKENDS_WITH_DEVICE_LIST:
        return []
    return list(keras.distribution.list_devices())


def data_parallel(batch_size: int) -> keras.distribution.DataParallel | None:
    """A data-parallel distribution over every accelerator, or None for one device or a backend
    other than JAX; ValueError where ``batch_size`` does not divide over the devices."""
    # numbers.Integral admits numpy integers from configs; bool is an int but never a batch size
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if keras.backend.backend() != "jax":
        return None
    devices = accelerators()
    if len(devices) < 2:
        return None
    if batch_size % len(devices):
        # JAX shards a batch only into equal parts: an uneven one fails deep inside
        # the first train step with a sharding error that does not name the batch size.
        lower = batch_size - batch_size % len(devices)
        higher = lower + len(devices)
        suggestion = f"{lower} or {higher}" if lower else str(higher)
        raise ValueError(
            f"batch size {batch_size} cannot be split evenly over {len(devices)} devices "
            f"({', '.join(devices)}): use a batch size that is a multiple of "
            f"{len(devices)}, e.g. {suggestion}")
    return keras.distribution.DataParallel(devices=devices)


def describe(distribution: keras.distribution.DataParallel | None) -> str:
    """A short account of where training runs: "data parallel over 2 gpu devices" or "one device"."""
    if distribution is None:
        return "one device"
    devices = [str(d) for d in distribution.device_mesh.devices.flat]
    kinds = sorted({d.split(":")[0] for d in devices})
    return f"data parallel over {len(devices)} {'/'.join(kinds)} devices"


@contextlib.contextmanager
def distributed(batch_size: int) -> Iterator[str]:
    """Run the block data-parallel over every accelerator, if there are several, and restore the
    distribution in force after it. Yields a description ("data parallel over 2 cpu devices", "one device")."""
    distribution = data_parallel(batch_size)
    if distribution is None:
        yield describe(None)
        return
    # Distribution.scope() is Keras' own context manager for this: it sets the
    # global distribution and puts back the previous one in a finally clause.
    with distribution.scope():
        yield describe(distribution)
