"""Counting XLA compilations of a JAX-backend run, epoch by epoch, with the persistent-cache hits among
them (nothing under TensorFlow)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import keras

_COMPILE = "/jax/core/compile/backend_compile_duration"
_CACHE_HIT = "/jax/compilation_cache/cache_hits"
# every compilation so far in this process, as (function name, seconds)
_compiled: list[tuple[str, float]] = []
_hits = [0]
_installed = [False]


def _on_duration(event: str, duration: float, **kwargs) -> None:
    if event == _COMPILE:
        _compiled.append((str(kwargs.get("fun_name", "?")), float(duration)))


def _on_event(event: str, **kwargs) -> None:
    if event == _CACHE_HIT:
        _hits[0] += 1


def watching() -> bool:
    """Start counting (once per process); False where the backend is not JAX."""
    if keras.backend.backend() != "jax":
        return False
    if not _installed[0]:
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        jax.monitoring.register_event_listener(_on_event)
        _installed[0] = True
    return True


@dataclass(frozen=True)
class Mark:
    """Where the counts stood at some moment (see `mark` and `since`)."""

    compiled: int = 0
    hits: int = 0


@dataclass
class Compilations:
    """The compilations between a mark and now."""

    events: list[tuple[str, float]] = field(default_factory=list)
    cache_hits: int = 0

    @property
    def count(self) -> int:
        return len(self.events)

    @property
    def seconds(self) -> float:
        return sum(seconds for _, seconds in self.events)

    def describe(self, top: int = 3) -> str:
        """'8 compilations, 21.4 s: train_step 15.2 s, test_step 5.9 s (2), ...': the `top`
        functions by time, and the cache hits if any."""
        seconds, times = Counter(), Counter()
        for name, took in self.events:
            seconds[name] += took
            times[name] += 1
        named = ", ".join(f"{name.removeprefix('jit(').removesuffix(')')} {took:.1f} s"
                          + (f" ({times[name]})" if times[name] > 1 else "")
                          for name, took in seconds.most_common(top))
        hits = f", {self.cache_hits} from the cache" if self.cache_hits else ""
        return f"{self.count} compilations, {self.seconds:.1f} s{hits}: {named}"


def mark() -> Mark:
    return Mark(len(_compiled), _hits[0])


def since(start: Mark) -> Compilations:
    return Compilations(list(_compiled[start.compiled:]), _hits[0] - start.hits)
