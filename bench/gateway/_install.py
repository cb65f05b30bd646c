"""Idempotent installs of the tools and rival gateways, all under bench/.work/ (or from apt).

LiteLLM gets its own virtualenv so its hundreds of pinned dependencies never touch ours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LITELLM_VERSION = "1.106.2"
PORTKEY_VERSION = "1.15.2"
_DEBIAN_PACKAGES = {"nginx": "nginx-light", "wrk": "wrk"}


def ensure_debian_tools() -> None:
    missing = [pkg for tool, pkg in _DEBIAN_PACKAGES.items() if not _which(tool)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(missing)}"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin")


def litellm_binary(work: Path) -> Path:
    return work / "litellm-venv" / "bin" / "litellm"


def ensure_litellm(work: Path) -> Path:
    venv = work / "litellm-venv"
    marker = venv / f".installed-{LITELLM_VERSION}"
    if not marker.exists():
        print(f"installing litellm[proxy]=={LITELLM_VERSION} into {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"],
            check=True,
        )
        marker.touch()
    return litellm_binary(work)


def portkey_entry(work: Path) -> Path:
    return (
        work / "portkey" / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    )


def ensure_portkey(work: Path) -> Path:
    entry = portkey_entry(work)
    root = work / "portkey"
    marker = root / f".installed-{PORTKEY_VERSION}"
    if not (marker.exists() and entry.exists()):
        print(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {root}", file=sys.stderr)
        root.mkdir(parents=True, exist_ok=True)
        (root / "package.json").write_text('{"name": "portkey-bench", "private": true}\n')
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", f"@portkey-ai/gateway@{PORTKEY_VERSION}"],
            check=True,
            cwd=root,
        )
        marker.touch()
    return entry
