"""Precision 'auto': decided by measuring the run's own model (unetcolor.unet.speed), never guessed;
recorded per run. The measurement itself is real; the tests that fix its outcome write the
numbers into the cache the decision reads, as a measurement on such a machine would."""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from unetcolor.colorizers import registry
from unetcolor.colorizers import training as colorizer_training
from unetcolor.training import train
from unetcolor.unet import precision, speed

import tiny


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine whose CPU flags and measured speeds the test sets (cache in tmp_path)."""
    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(speed, "on_gpu", lambda: False)

    def set_up(flags, rates=None):
        monkeypatch.setattr(speed, "cpu_flags", lambda: set(flags))
        if rates:  # a finished measurement of tiny.train()'s model, as model_speed caches it
            config = tiny.train()
            record = {name: {"train": {"median": sum(r) / len(r), "spread": [min(r), max(r)], "repeats": len(r),
                                       "warmup_seconds": 1.0},
                             "predict": {"median": 10.0, "spread": [9.0, 11.0], "repeats": 3, "warmup_seconds": 1.0},
                             "batch": 4}
                      for name, r in rates.items()}
            (tmp_path / speed.CACHE_FILE).write_text(json.dumps({
                "version": speed.CACHE_VERSION,
                speed.machine_key(): {speed.model_key(config, speed.probe_batch(config)): record}}))
    return set_up


def test_explicit_settings_are_taken_as_asked():
    config = tiny.train()
    assert precision.resolve("float32", config) == precision.Decision("float32", "asked for float32")
    assert precision.resolve("bfloat16", config).precision == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("float16", config)


def test_a_cpu_without_bfloat16_instructions_stays_float32_without_measuring(machine, tmp_path):
    machine({"avx2", "fma"})
    decision = precision.resolve("auto", tiny.train())
    assert decision.precision == "float32" and "no bfloat16 instructions" in decision.reason
    assert not (tmp_path / speed.CACHE_FILE).exists()


@pytest.mark.parametrize("bfloat16_rates, chosen", [
    ([3.4, 3.6, 3.8], "bfloat16"),  # every repeat beats float32's fastest
    ([1.05, 1.1, 2.3], "float32"),  # faster on the median, but inside float32's spread
])
def test_a_cpu_with_bfloat16_instructions_is_decided_by_the_measured_spread(machine, bfloat16_rates, chosen):
    machine({"avx512_bf16"}, {"float32": [1.0, 1.1, 1.2], "bfloat16": bfloat16_rates})
    decision = precision.resolve("auto", tiny.train())
    assert decision.precision == chosen
    assert "(cached)" in decision.reason and "over 3 repeats" in decision.reason


def test_each_run_records_its_precision_and_why(tiny_processed, tiny_config, tmp_path):
    train.train(tiny_config, tiny_processed, tmp_path / "run", progress="epoch")
    environment = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert (environment["precision"], environment["precision_reason"]) == ("float32", "asked for float32")
    assert environment["placement"] == "one device"


def test_the_measurement_interleaves_both_precisions_and_is_cached(monkeypatch, tmp_path):
    """A real measurement of a small U-Net: both precisions, training and inference, with a
    spread; the second call reads the cache and measures nothing."""
    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path))
    config = tiny.train(tiny.model(image_size=32, filters=(4, 8)), batch_size=2)
    first = speed.model_speed(config, seconds=0.05, repeats=2)
    assert not first["cached"] and first["batch"] == 2
    for name in ("float32", "bfloat16"):
        for kind in ("train", "predict"):
            figure = first[name][kind]
            assert figure["repeats"] == 2 and len(figure["rates"]) == 2
            assert figure["spread"] == [min(figure["rates"]), max(figure["rates"])] and figure["median"] > 0
    again = speed.model_speed(config, seconds=0.05, repeats=2)
    assert again["cached"] and again["float32"] == first["float32"]
    only = speed.model_speed(config, precisions=("float32",))
    assert only["cached"] and set(only) == {"float32", "batch", "cached"}


class FailsAfterTheFirstEpoch(keras.callbacks.Callback):
    """Raises at the end of epoch 1, having noted the policy training ran under."""

    def on_epoch_end(self, epoch, logs=None):
        self.policy = keras.mixed_precision.global_policy().name
        raise RuntimeError("failed in epoch 1")


def test_an_exception_inside_fit_leaves_float32_active(tiny_processed, tmp_path):
    """Both training paths, in bfloat16, stopped by an exception raised inside model.fit."""
    failing = FailsAfterTheFirstEpoch()
    with pytest.raises(RuntimeError, match="failed in epoch 1"):
        train.train(tiny.train(tiny.model(image_size=32, filters=(4, 8)), precision="bfloat16"), tiny_processed,
                    tmp_path / "run", progress="quiet", callbacks=[failing])
    assert failing.policy == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"

    recipe = dataclasses.replace(registry.recipe("regression"), name="default",
                                 model=tiny.model(image_size=16, filters=(4, 8), output="ab"), epochs=2,
                                 finetune_epochs=0, batch_size=4, seed=3, precision="bfloat16")
    rng = np.random.default_rng(0)
    pair = (rng.random((8, 16, 16, 1), dtype=np.float32), rng.uniform(-0.3, 0.3, (8, 16, 16, 2)).astype(np.float32))
    failing = FailsAfterTheFirstEpoch()
    with pytest.raises(RuntimeError, match="failed in epoch 1"):
        colorizer_training.fit(registry.head_for(recipe, pair[1]), pair, pair, verbose=False, callbacks=[failing])
    assert failing.policy == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_the_policy_is_restored_to_the_one_before_even_when_nested():
    with precision.computing("bfloat16"):
        with precision.computing(precision.Decision("float32", "inner")):
            assert keras.mixed_precision.global_policy().name == "float32"
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_the_global_policy_is_set_in_one_place_only():
    """Everything else enters precision.computing; the measurement sets a policy on each layer."""
    sources = Path(precision.__file__).parents[1].rglob("*.py")
    setters = sorted(str(path.relative_to(Path(precision.__file__).parents[1])) for path in sources
                     if "set_global_policy" in path.read_text())
    assert setters == ["unet/precision.py"]
    model = speed.built_in(tiny.train(tiny.model(image_size=16, filters=(4, 8))), "bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"
    assert model.get_layer("color").dtype_policy.name == "float32"  # as build_unet makes it under the policy
    assert {layer.dtype_policy.name for layer in model.layers[1:-1]} == {"mixed_bfloat16"}
