"""A sidecar pays in memory only for the optional features its config uses.

botocore and boto3 (Bedrock, S3 shipping), google-auth (Vertex AI), redis-py (the
fleet) and the OPA REST client with aiohttp (a policy served by OPA) take tens of MB
per process; a config that uses none of those features loads
none of them, in the sidecar's process or in its audit writer's. Each check runs in a
fresh interpreter, since this test process has long imported them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import adapters
import policy_engine.audit
import policy_engine.fleet
from policy_engine.audit import PRIVATE_KEY_NAME, write_key_pair
from policy_engine.audit._log import _BOOTSTRAP

REPO = Path(__file__).resolve().parents[1]
_OPTIONAL = (
    "botocore",
    "boto3",
    "s3transfer",
    "google.auth",
    "google.oauth2",
    "redis",
    "opa_client",  # and the aiohttp it brings: a policy served by OPA only
    "aiohttp",
)
# Printed by each child: the optional libraries it has loaded.
_REPORT = f"""
import json, sys
print(json.dumps([
    o for o in {_OPTIONAL!r} if any(n == o or n.startswith(o + ".") for n in sys.modules)
]))
"""


def _loaded(code: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + _REPORT],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize(
    "module",
    [
        "adapters",
        "policy_engine.audit",
        "policy_engine.fleet",
        "policy_engine.api",
        "policy_engine.cli",
    ],
)
def test_importing_a_package_loads_no_optional_library(module: str) -> None:
    assert _loaded(f"import {module}\n") == []


def test_a_sidecar_started_from_a_plain_config_loads_no_optional_library(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key_pair(keys, Ed25519PrivateKey.generate())
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"host": "127.0.0.1", "port": 0},
                "policy": {"policy_dir": str(REPO / "policies")},
                "audit": {
                    "dir": str(tmp_path / "audit"),
                    "signing_key_file": str(keys / PRIVATE_KEY_NAME),
                },
                "providers": [
                    {
                        "id": "openai",
                        "adapter": "openai",
                        "base_url": "http://127.0.0.1:9",
                        "api_key_env": "PLAIN_PROVIDER_KEY",
                        "models": {"default": "gpt-4o-mini"},
                        "attributes": {"residency": "eu"},
                    }
                ],
            }
        )
    )
    # What `policy-engine serve` builds: the CLI, the settings, the app and its sidecar
    # (the audit writer started, the policy loaded, the fleet and router built).
    code = f"""
import asyncio
from pathlib import Path
import policy_engine.cli
from policy_engine._config import load_config
from policy_engine.api import Sidecar, create_app

settings = load_config(Path({str(config)!r}))
create_app(settings)

async def start_and_stop() -> None:
    sidecar = await Sidecar.start(settings)
    await sidecar.stop()

asyncio.run(start_and_stop())
"""
    env = {**os.environ, "PLAIN_PROVIDER_KEY": "sk-synthetic"}
    assert _loaded(code, env) == []


def test_the_audit_writer_process_loads_no_optional_library() -> None:
    # The writer's own start-up code, up to the call that would serve a log.
    serve = "main(sys.argv[1:])\n"
    assert _BOOTSTRAP.endswith(serve)
    assert _loaded(_BOOTSTRAP.removesuffix(serve)) == []


@pytest.mark.parametrize("package", [adapters, policy_engine.audit, policy_engine.fleet])
def test_every_public_name_is_still_there_those_loaded_on_use_included(
    package: ModuleType,
) -> None:
    for name in package.__all__:
        assert getattr(package, name) is not None, name
