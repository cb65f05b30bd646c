"""The provider catalog a decision was made with, kept by its hash beside the audit log.

Every outcome record names the catalog's revision (`input.catalog`). The catalog
itself is the same for every request a sidecar serves, so it is written once, at
start, to `<audit dir>/catalogs/<revision>.json` rather than into each record; a
decision can then be replayed later (`policy-engine policy impact`) with exactly the
input it had. A catalog holds provider ids, adapters, model aliases and attributes:
no keys, no URLs, nothing from a request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import rfc8785

CATALOG_DIR = "catalogs"
_PREFIX = "sha256:"


def catalog_revision(catalog: Mapping[str, Any]) -> str:
    """`sha256:<hex>` of the catalog's RFC 8785 form: equal catalogs, equal revisions."""
    return _PREFIX + hashlib.sha256(rfc8785.dumps(dict(catalog))).hexdigest()


def catalog_path(directory: Path, revision: str) -> Path:
    if not revision.startswith(_PREFIX) or not _is_hex64(revision[len(_PREFIX) :]):
        raise ValueError(f"not a catalog revision: {revision[:80]!r}")
    return directory / CATALOG_DIR / f"sha256-{revision[len(_PREFIX) :]}.json"


def _is_hex64(text: str) -> bool:
    return len(text) == 64 and not text.strip("0123456789abcdef")


def keep_catalog(directory: Path, catalog: Mapping[str, Any]) -> str:
    """Write the catalog under its revision unless it is there already; its revision.

    Written whole or not at all (temporary file, fsync, rename), so a reader finds either
    no file or one that hashes to its name.
    """
    revision = catalog_revision(catalog)
    path = catalog_path(directory, revision)
    if path.is_file():
        return revision
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temp.open("wb") as file:
            file.write(rfc8785.dumps(dict(catalog)))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return revision


def read_catalog(directory: Path, revision: str) -> dict[str, Any] | None:
    """The catalog kept under `revision`, or None when it is missing or does not match it."""
    try:
        raw = catalog_path(directory, revision).read_bytes()
    except (OSError, ValueError):
        return None
    if _PREFIX + hashlib.sha256(raw).hexdigest() != revision:
        return None  # edited or damaged: it is not the catalog the records name
    catalog = orjson.loads(raw)
    return catalog if isinstance(catalog, dict) else None
