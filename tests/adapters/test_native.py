"""The compiled hot modules (tools/native.py): loaded when built, refused when stale,
and set aside by POLICY_ENGINE_PURE_PYTHON=1."""

from __future__ import annotations

import importlib
import importlib.util
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from adapters._native import PURE_PYTHON_ENV, pure_python, refuse_stale
from tests.pure_python import ROOT, run_on_sources

SUFFIX = EXTENSION_SUFFIXES[0]


def _native_sources() -> list[str]:
    spec = importlib.util.spec_from_file_location("native_build", ROOT / "tools" / "native.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [path for paths in module.GROUPS.values() for path in paths]


def _module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def test_every_listed_module_runs_compiled_after_make_setup() -> None:
    if pure_python():
        pytest.skip(f"{PURE_PYTHON_ENV}=1 runs the sources by request")
    interpreted = [
        source
        for source in _native_sources()
        if not str(importlib.import_module(_module_name(source)).__file__).endswith(SUFFIX)
    ]
    assert interpreted == [], "run `make setup` to compile them"


def test_pure_python_mode_imports_every_listed_module_from_its_source() -> None:
    names = [_module_name(source) for source in _native_sources()]
    script = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    print(importlib.import_module(name).__file__)\n"
    )
    child = run_on_sources(script, timeout=60)
    assert child.returncode == 0, child.stderr[-4000:]
    files = child.stdout.split()
    assert len(files) == len(names)
    assert all(file.endswith(".py") for file in files), files


def _package(tmp_path: Path) -> tuple[Path, Path]:
    package = tmp_path / "pkg" / "sub"
    package.mkdir(parents=True)
    source = package / "_hot.py"
    source.write_text("X = 1\n")
    built = package / f"_hot{SUFFIX}"
    built.write_bytes(b"\x7fELF")
    # A group's shared library has no source, and is never taken for a stale module.
    shared = package / f"_lib__mypyc{SUFFIX}"
    shared.write_bytes(b"\x7fELF")
    os.utime(shared, (1, 1))
    return source, built


def test_a_module_compiled_after_its_source_changed_is_accepted(tmp_path: Path) -> None:
    source, built = _package(tmp_path)
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    refuse_stale(tmp_path)


def test_a_module_compiled_before_its_source_changed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, built = _package(tmp_path)
    os.utime(built, (1_000, 1_000))
    os.utime(source, (2_000, 2_000))
    monkeypatch.delenv(PURE_PYTHON_ENV, raising=False)
    with pytest.raises(ImportError, match=r"_hot\.py last changed: run `make setup`"):
        refuse_stale(tmp_path)
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    refuse_stale(tmp_path)  # the sources run: the stale build is never loaded
