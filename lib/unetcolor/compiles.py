"""Counting XLA compilations of a JAX-backend run, epoch by epoch.

A JAX training run should compile its train and validation steps in the first
epoch and never again: each later compilation costs seconds to a minute on a
GPU (XLA autotunes every convolution). `CompileCounter` puts the number of
compilations that happened during an epoch into that epoch's history row
(column ``compiles``), so a log shows where time went and a test can hold the
count to what the first epoch needs. Under TensorFlow it records nothing.
"""

from __future__ import annotations

import keras

_EVENT = "/jax/core/compile/backend_compile_duration"
_state = {"count": 0, "seconds": 0.0, "installed": False}


def _listener(event: str, duration: float, **kwargs) -> None:
    if event == _EVENT:
        _state["count"] += 1
        _state["seconds"] += duration


def watching() -> bool:
    """Start counting (once per process); False where the backend is not JAX."""
    if keras.backend.backend() != "jax":
        return False
    if not _state["installed"]:
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_listener)
        _state["installed"] = True
    return True


def compiled_so_far() -> tuple[int, float]:
    """(compilations, seconds spent compiling) in this process since counting started."""
    return _state["count"], _state["seconds"]

