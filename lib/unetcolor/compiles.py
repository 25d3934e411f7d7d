"""Counting XLA compilations of a JAX-backend run, epoch by epoch, with the persistent-cache hits among
them (nothing under TensorFlow)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import keras

_compiled: list[tuple[str, float]] = []  # every compilation so far in this process, as (function name, seconds)
_counts = {"hits": 0, "installed": False}


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        _compiled.append((str(kwargs.get("fun_name", "?")), float(duration)))


def _on_event(event: str, **kwargs) -> None:
    if event == "/jax/compilation_cache/cache_hits":
        _counts["hits"] += 1


def watching() -> bool:
    """Start counting (once per process); False where the backend is not JAX."""
    if keras.backend.backend() == "jax" and not _counts["installed"]:
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        jax.monitoring.register_event_listener(_on_event)
        _counts["installed"] = True
    return keras.backend.backend() == "jax"


@dataclass(frozen=True)
class Compilations:
    """The compilations between a mark and now: how many, their seconds, the cache hits among them, and
    each as (function name, seconds)."""

    count: int
    seconds: float
    cache_hits: int
    events: list[tuple[str, float]]

    def describe(self, top: int = 3) -> str:
        """'8 compilations, 21.4 s: train_step 15.2 s, test_step 5.9 s (2), ...': the `top` functions by time,
        and the cache hits if any."""
        seconds, times = Counter(), Counter(name for name, _ in self.events)
        for name, took in self.events:
            seconds[name] += took
        named = ", ".join(f"{name.removeprefix('jit(').removesuffix(')')} {took:.1f} s"
                          + (f" ({times[name]})" if times[name] > 1 else "") for name, took in seconds.most_common(top))
        hits = f", {self.cache_hits} from the cache" if self.cache_hits else ""
        return f"{self.count} compilations, {self.seconds:.1f} s{hits}: {named}"


def mark() -> tuple[int, int]:
    """Where the counts stand now, for `since`."""
    return len(_compiled), _counts["hits"]


def since(start: tuple[int, int]) -> Compilations:
    events = _compiled[start[0]:]
    return Compilations(len(events), sum(seconds for _, seconds in events), _counts["hits"] - start[1], events)
