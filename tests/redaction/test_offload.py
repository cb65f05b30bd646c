"""A large request's texts are scanned in a process of its own, or on the worker thread
when no process can do it; the spans come back whole either way."""

from __future__ import annotations

import os
import threading
from functools import partial

from adapters._model import ChatRequest, Message, TextPart
from policy_engine.redaction import ENTITY_TYPES, Detector, Redactor, Span, default_redactor
from policy_engine.redaction._offload import _pack, unpack

ALL = ENTITY_TYPES
EMAIL = "jane.roe@example.org"


class ElsewhereDetector:
    """Takes a whole text for an e-mail address, but only in a process other than the
    one it was made in; there it finds nothing (or, dying, it kills the process it runs
    in, and where it was made takes the text for an address)."""

    entity_types = frozenset({"EMAIL_ADDRESS"})

    def __init__(self, dies_elsewhere: bool = False) -> None:
        self._home = os.getpid()  # pickled with it: the scan process has its own pid
        self._dies = dies_elsewhere

    def detect(self, text: str) -> list[Span]:
        if os.getpid() == self._home:
            return [Span(0, len(text), "EMAIL_ADDRESS")] if self._dies else []
        if self._dies:
            os._exit(1)
        return [Span(0, len(text), "EMAIL_ADDRESS")]


class LockedDetector(ElsewhereDetector):
    """Cannot be pickled: it holds a lock."""

    def __init__(self) -> None:
        super().__init__(dies_elsewhere=True)
        self.lock = threading.Lock()
        self.threads: list[str] = []

    def detect(self, text: str) -> list[Span]:
        self.threads.append(threading.current_thread().name)
        return super().detect(text)


def fails_elsewhere(home: int, detectors: list[Detector]) -> list[Detector]:
    if os.getpid() != home:
        raise RuntimeError("this scan process cannot build its detectors")
    return detectors


def one_text(text: str) -> ChatRequest:
    return ChatRequest("m", [Message("user", [TextPart(text)])])


async def redacted(redactor: Redactor, text: str) -> str:
    session = redactor.session()
    request = one_text(text)
    await session.prepare(request, [ALL], size=redactor.offload_bytes)
    part = session.redact_request(request, ALL).messages[0].content[0]
    assert isinstance(part, TextPart)
    return part.text


async def test_a_large_request_is_scanned_in_another_process() -> None:
    redactor = Redactor([ElsewhereDetector()], offload_bytes=1)
    assert await redacted(redactor, "scanned elsewhere") == "<EMAIL_ADDRESS_1>"


async def test_the_default_redactors_scan_process_builds_its_own_detectors() -> None:
    # Detectors compiled with mypyc do not unpickle: the process builds its own.
    redactor = default_redactor()
    text = await redacted(redactor, f"{'lorem ipsum ' * 3000} mail {EMAIL}")
    assert text.endswith("mail <EMAIL_ADDRESS_1>")
    assert redactor.scans._pool is not None  # a process scanned it, not the thread


async def test_detectors_that_cannot_be_pickled_are_run_on_the_worker_thread() -> None:
    detector = LockedDetector()
    redactor = Redactor([detector], offload_bytes=1)
    assert await redacted(redactor, "scanned here") == "<EMAIL_ADDRESS_1>"
    assert detector.threads == ["redaction_0"]


async def test_when_the_scan_process_dies_the_request_is_scanned_on_the_thread() -> None:
    redactor = Redactor([ElsewhereDetector(dies_elsewhere=True)], offload_bytes=1)
    for _ in range(2):  # the next request meets a new process, which dies too
        assert await redacted(redactor, "scanned here") == "<EMAIL_ADDRESS_1>"


async def test_a_scan_process_that_cannot_start_is_not_started_again() -> None:
    detectors: list[Detector] = [ElsewhereDetector(dies_elsewhere=True)]
    redactor = Redactor(
        detectors,
        offload_bytes=1,
        detector_factory=partial(fails_elsewhere, os.getpid(), detectors),
    )
    assert await redacted(redactor, "scanned here") == "<EMAIL_ADDRESS_1>"
    assert redactor.scans._process_pool() is None
    assert await redacted(redactor, "scanned here too") == "<EMAIL_ADDRESS_1>"


def test_spans_cross_between_processes_unchanged() -> None:
    spans = [Span(0, 5, "EMAIL_ADDRESS"), Span(7, 2**40, "PHONE_NUMBER")]
    assert unpack(_pack(spans)) == spans
    assert unpack(_pack([])) == []
