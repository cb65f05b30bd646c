"""Counters and histograms for the request path: plain numbers, read when scraped.

prometheus_client's own metrics take a lock and check their state on every update
(~0.3 µs an increment, ~0.7 µs an observation, ~1.2 µs a timed block), and a request
makes a dozen: ~8 µs by those figures, and 9-14 µs of the sidecar's CPU per request at
16 clients when removed outright (bench/PERF_NOTES.md, "Seventh round"). The request
path runs on the event loop's thread alone, so a plain `+=` needs no lock there.
prometheus_client still registers and renders these, through its custom-collector
interface; metrics updated off the request path (reloads, circuit states, failures)
stay its own.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Generic, TypeVar, cast

from prometheus_client import CollectorRegistry, utils
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

# How prometheus_client writes a bucket bound ("0.0005", "1.0", "+Inf"); untyped there.
_bound_label = cast(Callable[[float], str], utils.floatToGoString)


class CounterChild:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class HistogramChild:
    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)  # per bucket, not yet cumulative
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        # The first bucket whose upper bound is >= amount: Prometheus buckets are "le".
        self.counts[bisect_left(self._bounds, amount)] += 1
        self.sum += amount


class _Timer:
    __slots__ = ("_child", "_started")

    def __init__(self, child: HistogramChild) -> None:
        self._child = child
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._child.observe(time.perf_counter() - self._started)


ChildT = TypeVar("ChildT", CounterChild, HistogramChild)


class _Family(Collector, Generic[ChildT]):
    """Children by label values, registered with a prometheus_client registry."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], ChildT] = {}
        if not self._labelnames:
            self._children[()] = self._new_child()  # exported from the start
        registry.register(self)

    def labels(self, *values: str) -> ChildT:
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self._labelnames):
                raise ValueError(f"{self._name} takes labels {self._labelnames}")
            child = self._children[values] = self._new_child()
        return child

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def _new_child(self) -> ChildT:
        raise NotImplementedError

    def _family(self) -> Metric:
        raise NotImplementedError


class LoopCounter(_Family[CounterChild]):
    def inc(self, amount: float = 1) -> None:
        self.labels().inc(amount)

    def _new_child(self) -> CounterChild:
        return CounterChild()

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for values, child in list(self._children.items()):
            family.add_metric(values, child.value, created=child.created)
        return [family]


class LoopHistogram(_Family[HistogramChild]):
    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self._bounds = (*sorted(buckets), float("inf"))  # before the first child is made
        super().__init__(name, documentation, labelnames, registry=registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def observe(self, amount: float) -> None:
        self.labels().observe(amount)

    def time(self) -> _Timer:
        return _Timer(self.labels())

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for values, child in list(self._children.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(self._bounds, child.counts, strict=True):
                cumulative += count
                buckets.append((_bound_label(bound), cumulative))
            family.add_metric(values, buckets, child.sum)
            # As prometheus_client's histograms export it (its family has no parameter).
            labels = dict(zip(self._labelnames, values, strict=True))
            family.samples.append(Sample(f"{self._name}_created", labels, child.created))
        return [family]
