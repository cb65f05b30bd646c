"""The modules `tools/native.py` compiles with mypyc, as the packages load them.

An extension module beside its source is imported in its place. One older than its
source was built from other code: `refuse_stale` stops the import rather than run it.
With POLICY_ENGINE_PURE_PYTHON=1 the sources are imported instead (to rule the
compiled code out, or to test the sources themselves).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec
from pathlib import Path
from types import ModuleType

PURE_PYTHON_ENV = "POLICY_ENGINE_PURE_PYTHON"
_PACKAGES = ("adapters", "policy_engine")
_ROOT = Path(__file__).resolve().parents[1]


def pure_python() -> bool:
    return os.environ.get(PURE_PYTHON_ENV) == "1"


class _SourcesFirst(MetaPathFinder):
    """Finds our submodules' `.py` files ahead of the extension modules beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if path is None or fullname.partition(".")[0] not in _PACKAGES:
            return None
        name = fullname.rpartition(".")[2]
        for entry in path:
            source = os.path.join(entry, f"{name}.py")
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None  # a subpackage: the usual finders load its __init__.py


def _compiled_with_sources(package_dir: Path) -> Iterator[tuple[Path, Path]]:
    """Each extension module under `package_dir` that has a source beside it, with it
    (a group's shared library has none). One walk: the suffixes overlap (".so")."""
    for built in package_dir.rglob("*"):
        suffix = next((s for s in EXTENSION_SUFFIXES if built.name.endswith(s)), None)
        if suffix is not None:
            source = built.with_name(built.name.removesuffix(suffix) + ".py")
            if source.exists():
                yield built, source


def loaded_compiled() -> int:
    """How many of our modules were imported so far from compiled code."""
    return sum(
        name.partition(".")[0] in _PACKAGES
        and not name.endswith("__mypyc")  # a group's shared library
        and str(getattr(module, "__file__", "")).endswith(tuple(EXTENSION_SUFFIXES))
        for name, module in list(sys.modules.items())
    )


def refuse_stale(package_dir: Path) -> None:
    """Raise ImportError if a compiled module under `package_dir` predates its source."""
    if pure_python():
        return
    for built, source in _compiled_with_sources(package_dir):
        if source.stat().st_mtime > built.stat().st_mtime:
            raise ImportError(
                f"{built} was compiled before {source.name} last changed: run `make setup` "
                f"to compile it again, or set {PURE_PYTHON_ENV}=1 to run the sources"
            )


if pure_python():
    sys.meta_path.insert(0, _SourcesFirst())
for _package in _PACKAGES:
    refuse_stale(_ROOT / _package)
