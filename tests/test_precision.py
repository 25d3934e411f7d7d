"""Precision 'auto': decided by CPU flags and a cached probe, never guessed; recorded per run."""

import json

import pytest

from unetcolor import precision, train


@pytest.fixture
def cpu(monkeypatch, tmp_path):
    """A CPU machine whose flags and probe results the test sets; the probe cache in tmp_path."""
    monkeypatch.setenv(precision.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(precision, "on_gpu", lambda: False)
    calls = []

    def set_up(flags, speeds):
        monkeypatch.setattr(precision, "cpu_flags", lambda: set(flags))
        monkeypatch.setattr(precision, "probe", lambda: calls.append(1) or dict(speeds))
        return calls
    return set_up


def test_explicit_settings_are_taken_as_asked():
    assert precision.resolve("float32") == precision.Decision("float32", "asked for float32")
    assert precision.resolve("bfloat16").precision == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.resolve("float16")


def test_a_cpu_without_bfloat16_instructions_stays_float32_without_probing(cpu):
    calls = cpu({"avx2", "fma"}, {"float32": 1.0, "bfloat16": 9.0})
    decision = precision.resolve("auto")
    assert decision.precision == "float32" and "no bfloat16 instructions" in decision.reason
    assert calls == []


@pytest.mark.parametrize("bfloat16_speed, chosen", [(3.6, "bfloat16"), (1.1, "float32")])
def test_a_cpu_with_bfloat16_instructions_is_decided_by_the_probe(cpu, bfloat16_speed, chosen):
    calls = cpu({"avx512_bf16", "amx_bf16"}, {"float32": 1.0, "bfloat16": bfloat16_speed})
    decision = precision.resolve("auto")
    assert decision.precision == chosen
    assert f"{bfloat16_speed:.2f} in bfloat16" in decision.reason and "(cached)" not in decision.reason
    again = precision.resolve("auto")  # the probe ran once for this machine
    assert again.precision == chosen and "(cached)" in again.reason and len(calls) == 1


def test_a_gpu_computes_in_bfloat16(monkeypatch):
    monkeypatch.setattr(precision, "on_gpu", lambda: True)
    assert precision.resolve("auto").precision == "bfloat16"


def test_each_run_records_its_precision_and_why(tiny_processed, tiny_config, tmp_path):
    train.train(tiny_config, tiny_processed, tmp_path / "run", progress="epoch")
    environment = json.loads((tmp_path / "run" / "environment.json").read_text())
    assert (environment["precision"], environment["precision_reason"]) == ("float32", "asked for float32")


def test_the_probe_measures_both_precisions_on_this_machine():
    speeds = precision.probe(image_size=64, batch_size=2, steps=1)
    assert set(speeds) == {"float32", "bfloat16"} and all(value > 0 for value in speeds.values())
