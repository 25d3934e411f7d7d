"""Training on several accelerators at once, through Keras' own distribution engine.

A machine with two or more GPUs (or TPU cores) trains no faster than one
unless each batch is split across them. Keras 3 does that itself with
``keras.distribution.DataParallel``: every device holds a full replica of the
weights, each batch is sharded along its first axis, and XLA sums the
gradients across devices inside the compiled train step. This module only
decides whether to use it and sets it up; it adds no training logic of its
own, so a distributed run computes the same losses as a single-device run up
to floating-point round-off (tests/test_devices.py checks that).

``keras.distribution`` only works on the JAX backend in Keras 3 (TensorFlow's
is an unfinished prototype marked "DO NOT USE", and torch, numpy and openvino
have none), so elsewhere everything here is a no-op and training runs on one
device as before.

Usage, with the model built, compiled and fitted inside the block::

    with devices.distributed(config.batch_size) as where:
        model = build_model(...)
        model.compile(...)
        model.fit(..., batch_size=config.batch_size)

Keras decides where a variable lives when it is created, so a model built
before the block would stay on one device and JAX would refuse to compile a
step mixing it with sharded data or optimizer state.

Every batch must split evenly, not only ``batch_size``: a partial last batch
(fit, evaluate or predict) whose size is not a multiple of the device count
fails in JAX with ``IndivisibleError``. So training batches should be topped up
to full size, and evaluation batch sizes should be multiples of the device count too.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import keras

# Backends for which keras/src/backend/__init__.py loads a distribution library;
# on the others keras.distribution.list_devices() raises AttributeError.
_BACKENDS_WITH_DEVICE_LIST = ("jax", "tensorflow")


def accelerators() -> list:
    """The devices Keras' backend would spread data-parallel work over.

    ``keras.distribution.list_devices()``: the GPUs or TPU cores if there are any,
    otherwise the CPU devices (one, unless JAX was started with
    ``XLA_FLAGS=--xla_force_host_platform_device_count=N``), as strings like
    ``"gpu:0"``. A list of one device means there is nothing to parallelise; an
    empty list means the backend (torch, numpy, openvino) cannot list devices.
    """
    if keras.backend.backend() not in _BACKENDS_WITH_DEVICE_LIST:
        return []
    return list(keras.distribution.list_devices())


def data_parallel(batch_size: int) -> keras.distribution.DataParallel | None:
    """A data-parallel distribution over every accelerator, or None for one device.

    None when fewer than two devices are visible or the backend is not JAX
    (keras.distribution supports only JAX in Keras 3). Otherwise each batch of
    ``batch_size`` samples is split evenly across the devices, so ``batch_size``
    must be a multiple of the device count; ValueError says so if it is not.
    """
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
    """Run the block data-parallel over every accelerator, if there are several.

    Build, compile and fit the model inside the block (see the module docstring).
    The distribution in force before the block, usually none, is restored after
    it, also when the block raises. With one device, or a backend other than
    JAX, the block runs unchanged. Yields a description such as
    "data parallel over 2 cpu devices" or "one device".

    Raises ValueError, before the block runs, if ``batch_size`` does not divide
    evenly over the devices.
    """
    distribution = data_parallel(batch_size)
    if distribution is None:
        yield describe(None)
        return
    # Distribution.scope() is Keras' own context manager for this: it sets the
    # global distribution and puts back the previous one in a finally clause.
    with distribution.scope():
        yield describe(distribution)
