"""Scanning a large request's texts away from the event loop, in a process of its own.

A detector may hold the GIL for as long as one call of its runs (the Python detector,
which is the fallback when the native one is not built or hits a PCRE2 limit, does for
a whole text); on a thread of the sidecar, that call would stall the event loop with
it. In another process it stalls nothing. The process is started on the first large
request (spawned: the sidecar has threads, which a fork would copy half-way) and
builds its own detectors once, with the factory it is given (detectors compiled with
mypyc do not unpickle); without one, the detectors are sent to it when they survive
pickling, else the texts are scanned on a thread. A process that dies is replaced for
the next request, and the request it was scanning is scanned on the thread; one that
dies before its first scan is not replaced.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial

from policy_engine.redaction._types import Detector, Span

SCAN_NICENESS = 10
# Builds, in the scan process, detectors equal to the sidecar's, in the same order.
DetectorFactory = Callable[[], Sequence[Detector]]
# One text's spans as they cross between processes: their bounds as 64-bit integers
# and their types joined. A hostile text can have a hundred thousand spans; unpickled
# one object at a time, they would hold the GIL the event loop needs for that long.
Packed = tuple[bytes, str]

# The scan process's detectors, built once when it starts: a process holds one set,
# so this module-level state is that process's own.
_installed: tuple[Detector, ...] = ()


class ScanPool:
    def __init__(
        self,
        detectors: Sequence[Detector],
        processes: int,
        thread: ThreadPoolExecutor,
        factory: DetectorFactory | None = None,
    ) -> None:
        """`processes` scan processes (0: scan on `thread`)."""
        self._detectors = tuple(detectors)
        self._processes = processes
        self._thread = thread
        self._factory = factory
        self._pool: ProcessPoolExecutor | None = None
        self._scanned = False  # by the current process, at least once

    async def detect(self, pending: list[tuple[int, str]]) -> list[Packed]:
        """Each (detector index, text) detected, off the event loop; `unpack` them
        there too."""
        loop = asyncio.get_running_loop()
        pool = self._process_pool()
        if pool is not None:
            try:
                found = await loop.run_in_executor(pool, _detect, pending)
            except BrokenProcessPool:
                self._pool = None
                if not self._scanned:
                    self._processes = 0  # it cannot start: the thread from now on
            else:
                self._scanned = True
                return found
        return await loop.run_in_executor(self._thread, _detect_with, self._detectors, pending)

    def _process_pool(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self._processes > 0:
            if self._factory is None and _survive_pickling(self._detectors):
                self._factory = partial(_given, self._detectors)
            if self._factory is None:
                self._processes = 0
                return None
            self._scanned = False
            self._pool = ProcessPoolExecutor(
                self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_install,
                initargs=(self._factory,),
            )
        return self._pool


def _survive_pickling(detectors: tuple[Detector, ...]) -> bool:
    try:
        # Our own bytes, just made: nothing untrusted is unpickled.
        pickle.loads(pickle.dumps(detectors))  # noqa: S301
    except Exception:  # noqa: BLE001 - any failure, in any detector's own code, means no
        return False
    return True


def _given(detectors: tuple[Detector, ...]) -> tuple[Detector, ...]:
    return detectors


def _install(factory: DetectorFactory) -> None:
    global _installed
    _installed = tuple(factory())
    # Scans are background work: when the CPU is short, the event loop's process goes first.
    os.nice(SCAN_NICENESS)


def _detect(pending: list[tuple[int, str]]) -> list[Packed]:
    return _detect_with(_installed, pending)


def _detect_with(detectors: tuple[Detector, ...], pending: list[tuple[int, str]]) -> list[Packed]:
    return [_pack(detectors[index].detect(text)) for index, text in pending]


def _pack(spans: list[Span]) -> Packed:
    bounds = array("q")
    for span in spans:
        bounds.append(span.start)
        bounds.append(span.end)
    return bounds.tobytes(), "\0".join(span.entity_type for span in spans)


def unpack(packed: Packed) -> list[Span]:
    bounds = array("q", packed[0])
    types = packed[1].split("\0") if packed[1] else []
    return [Span(bounds[2 * n], bounds[2 * n + 1], entity) for n, entity in enumerate(types)]
