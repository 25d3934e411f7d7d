"""The bench's helpers (not a benchmark): the median-of-repeats timing, the bfloat16 copy
of a float32 model, the fit runner, and the JSON it writes -- on tiny models, in seconds."""

import dataclasses
import json

import keras
import numpy as np
import pytest

from unetcolor import colorizers, reproducibility
from unetcolor.colorizers.gan import GanHead
from unetcolor.colorizers.training import FlipBatches
from unetcolor.commands import bench
from unetcolor.evaluation import predict
from unetcolor.unet.model import build_unet

import tiny

TINY = tiny.model(image_size=16, filters=(4, 8))
TINY_AB = tiny.model(image_size=16, filters=(4, 8), normalization="batch", output="ab")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_measure_runs_warmups_then_repeats_of_at_least_the_seconds_and_takes_the_median():
    clock, calls = FakeClock(), []
    step_seconds = iter([9.0, 9.0] + [1.0] * 5 + [2.0] * 3 + [0.5] * 10)  # two slow warm-ups, then three repeats

    def run(remaining):
        calls.append(remaining)
        clock.now += next(step_seconds)
        return 4  # images per call

    figure = bench.measure(run, seconds=5, repeats=3, warmup=2, clock=clock)
    assert calls[:2] == [None, None]  # the warm-ups, untimed
    assert figure["repeats"] == 3 and len(figure["rates"]) == 3
    assert figure["seconds"] == [5.0, 6.0, 5.0]  # each repeat runs until it has at least 5 s measured
    assert figure["items"] == [20, 12, 40]
    assert figure["rates"] == [4.0, 2.0, 8.0]
    assert figure["median"] == 4.0
    assert calls[2] == 5.0 and calls[3] == 4.0  # run is told how much measured time the repeat still needs
    per_image = bench.seconds_per_item(figure)
    assert per_image["median"] == 0.25 and per_image["per_repeat"] == [0.25, 0.5, 0.125]
    with pytest.raises(ValueError, match="repeats"):
        bench.measure(run, seconds=1, repeats=0)


def test_speedup_is_bfloat16_over_float32_whichever_way_is_better():
    rates = {"float32": {"median": 2.0}, "bfloat16": {"median": 3.0}}
    assert bench.speedup(rates) == pytest.approx(1.5)
    times = {"float32": {"t": {"median": 3.0}}, "bfloat16": {"t": {"median": 2.0}}}
    assert bench.speedup(times, "t", lower_is_better=True) == pytest.approx(1.5)


def test_bfloat16_copy_computes_the_body_in_bfloat16_keeps_output_and_weights_float32():
    keras.utils.set_random_seed(0)
    model = build_unet(TINY)
    assert bench.in_precision(model, "float32") is model
    copy = bench.in_precision(model, "bfloat16")
    policies = {layer.name: layer.dtype_policy.name for layer in copy.layers}
    assert policies["color"] == "float32" and policies["down1_conv"] == "mixed_bfloat16"
    # as a model built under mixed_bfloat16 would be (but for the input, which stays float32 either way)
    with bench.precision.computing("bfloat16"):
        built = build_unet(TINY)
    assert {**policies, "gray": None} == {**{layer.name: layer.dtype_policy.name for layer in built.layers},
                                          "gray": None}
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    gray = np.random.default_rng(0).integers(0, 256, size=(2, 16, 16), dtype=np.uint8)
    full, half = predict.predict_batch(model, gray), predict.predict_batch(copy, gray)
    assert full.dtype == half.dtype == np.uint8 and full.shape == half.shape
    assert np.abs(full.astype(int) - half.astype(int)).max() <= 3  # rounding, not a different model


def test_fit_runner_sizes_each_call_by_the_remaining_time_and_cycles_a_pool():
    keras.utils.set_random_seed(0)
    model = build_unet(TINY)
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).random((8, 16, 16, 1), dtype=np.float32)
    y = np.zeros((8, 16, 16, 3), np.float32)
    pool = FlipBatches(x, y, batch_size=4, seed=0)
    runner = bench.FitRunner(model, lambda steps: bench.Cycled(pool, steps), batch_size=4)
    assert runner(None) == 4  # a warm-up call: one step
    runner.step_seconds = 0.01
    assert runner(0.05) == 4 * 6  # ceil(0.05 * 1.02 / 0.01) steps, from a pool of 2 batches
    assert [steps for steps, _ in runner.calls] == [1, 6]
    cycled = bench.Cycled(pool, 5)
    assert len(cycled) == 5
    np.testing.assert_array_equal(cycled[3][0], pool[1][0])


def test_training_and_recipe_parts_report_both_precisions_and_the_old_keys():
    training = bench.bench_training(seconds=0.05, repeats=1, batch_size=2, image_size=16, model_config=TINY,
                                    pool_batches=2)
    for key in ("bare_fit_images_per_s", "project_loop_images_per_s", "training_gflop_per_image",
                "project_loop_gflop_per_s", "project_to_bare_ratio", "batch_size", "steps", "image_size"):
        assert key in training  # what earlier versions wrote: float32
    assert training["bare_fit_images_per_s"] == training["float32"]["bare_fit"]["median"]
    assert training["bfloat16"]["project_to_bare_ratio"] == pytest.approx(
        training["bfloat16"]["project_loop"]["median"] / training["bfloat16"]["bare_fit"]["median"])
    assert set(training["bfloat16_speedup"]) == {"bare_fit", "project_loop"}

    recipe = dataclasses.replace(colorizers.recipe("regression"), name="default", model=TINY_AB, batch_size=4,
                                 finetune_epochs=0, head="gan")
    recipes = bench.bench_recipes(names=("gan",), seconds=0.05, repeats=1, pool_batches=2,
                                  recipes={"gan": (recipe, GanHead(recipe))})
    assert recipes["gan"]["image_size"] == 16 and recipes["gan"]["batch_size"] == 4
    assert recipes["gan"]["float32"]["items"][0] % 4 == 0
    assert recipes["gan"]["bfloat16_speedup"] > 0
    assert keras.mixed_precision.global_policy().name == "float32"


def test_shipped_part_compares_the_outputs_of_both_precisions(tmp_path):
    keras.utils.set_random_seed(0)
    build_unet(TINY_AB).save(tmp_path / "tiny.keras")
    model = predict.load_model(tmp_path / "tiny.keras")
    result = bench.bench_shipped(megapixels_shape=(40, 60), photos=2, seconds=0.02, repeats=1,
                                 models={"tiny": model})["tiny"]
    assert result["colorize_12mp_seconds"] == result["float32"]["colorize_12mp_seconds"]["median"]
    assert result["colorize_256_photos_per_s"] == result["float32"]["colorize_256_photos_per_s"]["median"]
    assert result["bfloat16_vs_float32_output"]["max_abs_difference"] <= 3
    assert set(result["bfloat16_speedup"]) == {"colorize_12mp", "colorize_256"}


def test_main_writes_the_cpu_its_flags_the_precision_decisions_and_keeps_the_file_name(tmp_path, monkeypatch):
    from unetcolor.unet import speed

    monkeypatch.setenv(speed.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(speed, "on_gpu", lambda: False)
    monkeypatch.setattr(speed, "cpu_flags", lambda: {"fma"})  # no bfloat16 instructions: nothing to measure
    monkeypatch.setattr(bench, "cpu_flags", lambda: {"fma"})
    monkeypatch.setattr(bench, "bench_data", lambda source, seconds, repeats: {"data_prepare_seconds": 1.0})
    assert bench.main(["--out", str(tmp_path / "out"), "--only", "data", "--seconds", "0"]) == 0
    written = list((tmp_path / "out").iterdir())
    assert len(written) == 1 and written[0].name == f"{reproducibility.machine_key()}.json"  # one per machine
    record = json.loads(written[0].read_text())
    assert record["cpu"]["flags"] == {"amx_bf16": False, "amx_tile": False, "avx512_bf16": False}
    assert record["cpu"]["cores"] >= 1 and record["cpu"]["model"]
    auto = record["precision"]["auto"]
    assert auto["precision"] == "float32" and "no bfloat16 instructions" in auto["reason"]
    assert "median" in record["method"]["statistic"] and record["data"]["data_prepare_seconds"] == 1.0
    assert record["data"]["measured"]["repeats"] == 3 and record["data"]["measured"]["seconds_per_repeat"] == 0
    assert {"machine", "environment"} <= set(record)
    # --only refreshes its parts and keeps the others
    written[0].write_text(json.dumps({**record, "training": {"kept": True}}))
    bench.main(["--out", str(tmp_path / "out"), "--only", "data", "--seconds", "0"])
    assert json.loads(written[0].read_text())["training"] == {"kept": True}


def test_measure_each_interleaves_the_repeats_of_its_runs():
    clock, order = FakeClock(), []

    def run_of(name, step):
        def run(remaining):
            order.append(name if remaining is not None else f"{name} warm-up")
            clock.now += step
            return 1
        return run

    figures = bench.measure_each({"a": run_of("a", 1.0), "b": run_of("b", 2.0)}, seconds=2, repeats=2, clock=clock)
    assert order == ["a warm-up", "b warm-up", "a", "a", "b", "a", "a", "b"]
    assert figures["a"]["median"] == 1.0 and figures["b"]["median"] == 0.5
