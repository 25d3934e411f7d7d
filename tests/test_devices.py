"""unetcolor.devices: data parallelism through keras.distribution, on real (virtual) devices.

JAX fixes its device count when it starts, from XLA_FLAGS, so each check runs in a
fresh interpreter with --xla_force_host_platform_device_count set: 2 CPU devices
stand in for 2 GPUs (the same sharding and all-reduce code paths in XLA), 1 for a
single-GPU machine. No mocks: the two-device run really shards every batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"
MARK = "RESULT "

# A miniature of the paper's U-Net: strided conv, BatchNormalization, upsampling and a
# skip connection. BatchNormalization matters: under keras.distribution on JAX its
# batch statistics are taken over the whole batch, not per device, so a distributed
# run must match a single-device run (a per-replica BN, as in tf.distribute, would not).
TRAIN_SCRIPT = r"""
import json
import numpy as np
import keras
from unetcolor import devices


def build():
    keras.utils.set_random_seed(3)
    gray = keras.Input((16, 16, 1))
    # no bias before BatchNormalization: BN cancels it, so its gradient is 0 up to round-off,
    # and Adam (g / (|g| + eps)) turns that round-off into steps of up to the learning rate,
    # in single- and multi-device runs alike; such a bias could only be compared loosely
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(gray)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.LeakyReLU(negative_slope=0.2)(x)
    x = keras.layers.UpSampling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.Concatenate()([x, gray])
    color = keras.layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    model = keras.Model(gray, color)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (8, 16, 16, 1)).astype("float32")
y = rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
fit = dict(batch_size=4, epochs=2, shuffle=False, verbose=0)

single = build()
initial = single.get_weights()
single_loss = single.fit(x, y, **fit).history["loss"]

with devices.distributed(4) as description:
    inside = keras.distribution.distribution()
    parallel = build()
    parallel.set_weights(initial)
    parallel_loss = parallel.fit(x, y, **fit).history["loss"]
    weight_devices = len(parallel.weights[0].value.sharding.device_set)
after = keras.distribution.distribution()

try:
    with devices.distributed(4):
        raise RuntimeError("leaving the block by an exception")
except RuntimeError:
    pass
after_error = keras.distribution.distribution()

try:
    with devices.distributed(3):
        bad_batch_entered = True
except ValueError as error:
    bad_batch_error = str(error)
else:
    bad_batch_error = None

print("RESULT " + json.dumps({
    "devices": devices.accelerators(),
    "description": description,
    "distribution_inside": type(inside).__name__,
    "distribution_after": repr(after),
    "distribution_after_error": repr(after_error),
    "weight_devices": weight_devices,
    "single_loss": single_loss,
    "parallel_loss": parallel_loss,
    "weights_max_abs_diff": max(float(np.max(np.abs(a - b)))
                                for a, b in zip(single.get_weights(), parallel.get_weights())),
    "bad_batch_error": bad_batch_error,
}))
"""

ONE_DEVICE_SCRIPT = r"""
import json
import keras
from unetcolor import devices

with devices.distributed(4) as description:
    inside = keras.distribution.distribution()
print("RESULT " + json.dumps({
    "devices": devices.accelerators(),
    "data_parallel": repr(devices.data_parallel(4)),
    "description": description,
    "distribution_inside": repr(inside),
}))
"""


def run_with_devices(script: str, device_count: int) -> dict:
    """Run `script` in a fresh JAX-on-CPU interpreter that sees `device_count` devices."""
    env = dict(os.environ)
    env.update(
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={device_count}",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONPATH=os.pathsep.join([str(LIB), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"subprocess failed:\n{done.stdout}\n{done.stderr}"
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    assert lines, f"no result line in the subprocess output:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[-1][len(MARK):])


@pytest.fixture(scope="module")
def two_devices() -> dict:
    return run_with_devices(TRAIN_SCRIPT, 2)


def test_two_devices_are_seen_and_used(two_devices):
    assert two_devices["devices"] == ["cpu:0", "cpu:1"]
    assert two_devices["description"] == "data parallel over 2 cpu devices"
    assert two_devices["distribution_inside"] == "DataParallel"
    # the model built inside the block has its weights on both devices (replicated)
    assert two_devices["weight_devices"] == 2


def test_data_parallel_training_matches_one_device(two_devices):
    single, parallel = two_devices["single_loss"], two_devices["parallel_loss"]
    assert len(single) == len(parallel) == 2
    assert single[1] < single[0]  # it trained: the comparison is not between two constants
    # Same arithmetic, but each device sums its half of the batch and XLA adds the halves
    # (and the BatchNormalization moments) across devices: float32 round-off, ~1e-7.
    np.testing.assert_allclose(parallel, single, rtol=1e-5)
    assert two_devices["weights_max_abs_diff"] < 1e-5


def test_previous_distribution_is_restored(two_devices):
    assert two_devices["distribution_after"] == "None"
    assert two_devices["distribution_after_error"] == "None"


def test_batch_size_must_divide_over_devices(two_devices):
    message = two_devices["bad_batch_error"]
    assert message is not None, "batch size 3 over 2 devices did not raise ValueError"
    assert "batch size 3" in message
    assert "2 devices" in message
    assert "multiple of 2" in message and "2 or 4" in message


def test_one_device_is_a_no_op():
    result = run_with_devices(ONE_DEVICE_SCRIPT, 1)
    assert result["devices"] == ["cpu:0"]
    assert result["data_parallel"] == "None"
    assert result["description"] == "one device"
    assert result["distribution_inside"] == "None"
