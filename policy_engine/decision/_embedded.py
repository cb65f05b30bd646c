"""In-process Rego evaluation with regopy: the default engine, no OPA process needed."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import regopy
import watchfiles

from policy_engine._errors import PolicyUnavailable


@dataclass(frozen=True, slots=True)
class PolicySource:
    """The policy modules and data of a policy directory, and their revision.

    Laid out as OPA loads a directory, so `opa run`, `opa test` and `opa build` on the
    same folder see the same documents: every `.rego` file except `*_test.rego`, and
    every `data.json` at the path of its folder (`tenants/data.json` is `data.tenants`).
    """

    modules: dict[str, str]  # relative path -> Rego text (tests excluded)
    data: dict[str, Any]  # the merged base document
    revision: str

    @classmethod
    def read(cls, policy_dir: Path) -> PolicySource:
        if not policy_dir.is_dir():
            raise PolicyUnavailable("not_loaded", f"policy directory {policy_dir} does not exist")
        digest = hashlib.sha256()
        modules: dict[str, str] = {}
        data: dict[str, Any] = {}
        files = sorted(
            p
            for p in policy_dir.rglob("*")
            if p.is_file()
            and (
                (p.suffix == ".rego" and not p.name.endswith("_test.rego")) or p.name == "data.json"
            )
        )
        for path in files:
            relative = path.relative_to(policy_dir).as_posix()
            raw = path.read_bytes()
            digest.update(relative.encode() + b"\0" + raw + b"\0")
            if path.suffix == ".rego":
                modules[relative] = raw.decode("utf-8")
                continue
            try:
                document = orjson.loads(raw)
            except orjson.JSONDecodeError as error:
                raise PolicyUnavailable(
                    "not_loaded", f"{relative}: invalid JSON: {error}"
                ) from None
            _mount(data, path.parent.relative_to(policy_dir).parts, document, relative)
        if not modules:
            raise PolicyUnavailable("not_loaded", f"no .rego modules under {policy_dir}")
        return cls(modules, data, "sha256:" + digest.hexdigest())


def _mount(root: dict[str, Any], path: tuple[str, ...], document: Any, source: str) -> None:
    """Place `document` at `path` in the base document, as OPA does for data files."""
    node = root
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise PolicyUnavailable("not_loaded", f"{source}: conflicts with data at {part}")
    if not path:
        existing: Any = root
    else:
        existing = node.get(path[-1])
    if existing is None:
        node[path[-1]] = document
    elif isinstance(existing, dict) and isinstance(document, dict):
        existing.update(document)
    else:
        raise PolicyUnavailable("not_loaded", f"{source}: conflicts with data loaded before it")


@dataclass(frozen=True, slots=True)
class _Compiled:
    source: PolicySource
    bundle: regopy.Bundle
    cache_fields: frozenset[str]


REQUEST_FIELDS = (
    "residency",
    "privacy_tags",
    "task_classes",
    "model",
    "stream",
    "input_chars",
    "input_tokens",
    "has_tools",
    "has_images",
    "protocol",
    "budget",
    "operation",
)


def _compile(source: PolicySource, entrypoint: str) -> _Compiled:
    builder = regopy.Interpreter()
    try:
        for name, text in source.modules.items():
            builder.add_module(name, text)
        builder.add_data(source.data)
        bundle = builder.build(None, [entrypoint])
    except regopy.RegoError as error:
        raise PolicyUnavailable("not_loaded", f"policy does not compile: {error}") from None
    # A request field whose name appears nowhere in the policy or its data cannot
    # change its result, so it stays out of the decision cache key (see Decider). A
    # policy that builds a field name from pieces at run time defeats this: such a
    # policy must run with `policy.cache_size: 0`.
    text = "\n".join(source.modules.values()) + orjson.dumps(source.data).decode()
    fields = frozenset(f for f in REQUEST_FIELDS if f in text)
    return _Compiled(source, bundle, fields)


class EmbeddedEngine:
    """Compiles the policy into a regopy bundle and evaluates the entrypoint per request.

    An evaluation (10.8 ms p50 with the demo catalog, bench/decision_bench.py) runs on
    a dedicated thread with its own interpreter, never on the event loop: regopy
    releases the GIL for most of it, so other requests go on meanwhile instead of
    stalling behind a cache miss, and `policy.timeout_ms` can fail a slow one closed.
    The sidecar keeps one such thread (`workers=1`); the reports that evaluate every
    combination at once (`resilience`, the console) take one per core, which runs them
    ~1.8 times as fast on two cores. `watch` recompiles when a file changes and swaps the
    compiled policy in one assignment; a policy that no longer compiles is refused and
    the previous revision keeps serving.
    """

    def __init__(self, policy_dir: Path, entrypoint: str, workers: int = 1) -> None:
        self._policy_dir = policy_dir
        self._entrypoint = entrypoint
        self._compiled = _compile(PolicySource.read(policy_dir), entrypoint)
        self._runners = threading.local()  # an interpreter per thread of `_threads`
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rego")

    @property
    def revision(self) -> str:
        return self._compiled.source.revision

    @property
    def cache_fields(self) -> frozenset[str] | None:
        return self._compiled.cache_fields

    @property
    def policy_dir(self) -> Path:
        return self._policy_dir

    async def evaluate(self, policy_input: dict[str, Any]) -> tuple[Any, str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, self._evaluate, self._compiled, policy_input
        )

    def _evaluate(self, compiled: _Compiled, policy_input: dict[str, Any]) -> tuple[Any, str]:
        runner: regopy.Interpreter | None = getattr(self._runners, "interpreter", None)
        if runner is None:
            runner = self._runners.interpreter = regopy.Interpreter()
        try:
            runner.set_input(policy_input)
            output = runner.query_bundle_entrypoint(compiled.bundle, self._entrypoint)
        except regopy.RegoError as error:
            raise PolicyUnavailable("error", f"evaluation failed: {error}") from None
        if not output.ok():
            raise PolicyUnavailable("error", "evaluation failed (for example a rule conflict)")
        try:
            results = output.results
        except ValueError:
            # regopy does not escape quotes or control characters in strings it returns.
            raise PolicyUnavailable("malformed", "the policy result is not valid JSON") from None
        if not results or not results[0].expressions:
            return None, compiled.source.revision
        return results[0].expressions[0], compiled.source.revision

    def reload(self) -> bool:
        """Recompile if the files changed; True when a new revision took over."""
        source = PolicySource.read(self._policy_dir)
        if source.revision == self._compiled.source.revision:
            return False
        self._compiled = _compile(source, self._entrypoint)
        return True

    async def watch(self, on_reload: Callable[[str, str | None], None]) -> None:
        """Reload on every change under the policy folder until cancelled.

        `on_reload(revision, error)` reports each attempt: the new revision, or the
        revision still serving and why the new files were refused.
        """
        async for _ in watchfiles.awatch(self._policy_dir, debounce=200, recursive=True):
            try:
                changed = await asyncio.to_thread(self.reload)
            except PolicyUnavailable as error:
                on_reload(self.revision, error.message)
                continue
            if changed:
                on_reload(self.revision, None)

    async def ready(self) -> bool:
        return True

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
