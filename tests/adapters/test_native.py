"""The compiled hot modules (tools/native.py): loaded when built, refused when stale,
and set aside by POLICY_ENGINE_PURE_PYTHON=1."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from adapters._native import PURE_PYTHON_ENV, compiled_modules, pure_python, refuse_stale

ROOT = Path(__file__).resolve().parents[2]
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
    child = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, PURE_PYTHON_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
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
    (package / f"_lib__mypyc{SUFFIX}").write_bytes(b"\x7fELF")  # a shared library: no source
    return source, built


def test_a_module_compiled_after_its_source_changed_is_accepted(tmp_path: Path) -> None:
    source, built = _package(tmp_path)
    os.utime(source, (1_000, 1_000))
    os.utime(built, (2_000, 2_000))
    assert compiled_modules(tmp_path) == [built]
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
