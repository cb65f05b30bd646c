"""The scenarios: what to start for each gateway, and where wrk should send the request."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters._native import PURE_PYTHON_ENV
from bench.gateway._install import litellm_binary, portkey_entry
from bench.gateway._payload import (
    API_KEY,
    EMBEDDING_MODEL,
    TENANT,
    UPSTREAM_EMBEDDING_MODEL,
    UPSTREAM_MODEL,
    Api,
    request_headers,
)
from bench.gateway._procs import Child, Supervisor, wait_listening
from policy_engine._config import parse_config
from policy_engine._errors import ConfigError
from policy_engine.audit import write_key_pair
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
_KEY_ENV = "BENCH_OPENAI_API_KEY"
# Node preload for Portkey. It forces listeners onto loopback (Portkey binds every interface).
_LOOPBACK_PRELOAD = """\
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number") {
    const done = args.find((a) => typeof a === "function");
    const host = "127.0.0.1";
    return done ? listen.call(this, args[0], host, done) : listen.call(this, args[0], host);
  }
  if (args[0] && typeof args[0] === "object" && !("path" in args[0])) {
    args[0] = { ...args[0], host: "127.0.0.1" };
  }
  return listen.apply(this, args);
};
// Portkey 1.15.2 on Node appends headers to the upstream fetch Response of a stream, whose
// headers are immutable (Portkey-AI/gateway#1389, #1550); re-wrap streams as their fix does.
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const response = await realFetch(...args);
  if (!(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    return response;
  }
  const { status, statusText, headers } = response;
  return new Response(response.body, { status, statusText, headers });
};
"""


# Where each API's request of each mode goes, under the OpenAI-compatible root (the keys
# are payload.API_MODES: the Responses API has no embeddings).
_PATHS: dict[tuple[Api, str], str] = {
    ("chat", "json"): "/chat/completions",
    ("chat", "stream"): "/chat/completions",
    ("chat", "embeddings"): "/embeddings",
    ("responses", "json"): "/responses",
    ("responses", "stream"): "/responses",
}


@dataclass(frozen=True)
class Endpoint:
    base: str  # the OpenAI-compatible root, ".../v1"
    headers: dict[str, str]
    child: Child | None  # None when nothing sits between wrk and nginx
    api: Api = "chat"  # which request wrk sends: Chat Completions or the Responses API

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def url(self, mode: str) -> str:
        """Where a request of `mode` (json, stream, embeddings) goes."""
        return self.base + _PATHS[self.api, mode]


class Scenario(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def group(self) -> str:
        """direct, sidecar, litellm or portkey (with -responses for the Responses API rows):
        the ratio and target rows look these up."""

    @property
    def api(self) -> Api:
        """chat (Chat Completions and embeddings) or responses: which modes it is measured in."""

    def unavailable(self, tools: Path) -> str | None: ...

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint: ...


@dataclass(frozen=True)
class Direct:
    name: str = "direct"
    group: str = "direct"
    api: Api = "chat"

    def unavailable(self, tools: Path) -> str | None:
        return None

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint:
        return Endpoint(upstream, request_headers(), None)


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def sidecar_config(
    upstream: str, port: int, work: Path, overrides: dict[str, Any]
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port},
        "policy": {"policy_dir": str(ROOT / "policies"), "entrypoint": "router/decision"},
        "audit": {
            "dir": str(work / "audit"),
            "signing_key_file": str(work / "keys" / "audit-signing-key.pem"),
            "fsync": "batch",
        },
        "providers": [
            {
                "id": "openai",
                "adapter": "openai",
                "base_url": upstream,
                "api_key_env": _KEY_ENV,
                "models": {"default": UPSTREAM_MODEL, EMBEDDING_MODEL: UPSTREAM_EMBEDDING_MODEL},
                "attributes": {
                    "residency": "us",
                    "region": "us-east-1",
                    "cloud": "openai",
                    "certifications": ["soc2"],
                },
            }
        ],
        "embeddings": {EMBEDDING_MODEL: {"model": UPSTREAM_EMBEDDING_MODEL}},
    }
    return _deep_merge(base, overrides)


@dataclass(frozen=True)
class Sidecar:
    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    group: str = "sidecar"
    env: dict[str, str] = field(default_factory=dict)
    api: Api = "chat"  # "responses": POST /v1/responses, translated to the upstream's chat
    # Another checkout's sidecar (its own .venv, `make setup` run there): the baseline a
    # change is measured against in the same run, with its own policies. Its config
    # leaves out the embeddings alias, which a tree from before embeddings would refuse.
    tree: Path | None = None

    def unavailable(self, tools: Path) -> str | None:
        raw = sidecar_config("http://127.0.0.1:1/v1", 1, tools, self.overrides)
        try:
            parse_config(raw)
        except ConfigError as error:
            return f"config not accepted: {error.message.splitlines()[-1].strip()}"
        return None

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint:
        work.mkdir(parents=True, exist_ok=True)
        keys = work / "keys"
        if not (keys / "audit-signing-key.pem").exists():
            write_key_pair(keys, Ed25519PrivateKey.generate())
        port = free_port()
        config = work / "policy-engine.yaml"
        raw = sidecar_config(upstream, port, work, self.overrides)
        python = sys.executable
        if self.tree is not None:
            raw.pop("embeddings")
            raw["policy"]["policy_dir"] = str(self.tree / "policies")  # its own policies
            raw["providers"][0]["models"] = {"default": UPSTREAM_MODEL}
            python = str(self.tree / ".venv" / "bin" / "python")
        config.write_text(yaml.safe_dump(raw))
        child = supervisor.start(
            self.name,
            [python, "-m", "policy_engine.cli", "serve", "--config", str(config)],
            log=work / "sidecar.log",
            env={**os.environ, _KEY_ENV: API_KEY, **self.env},
            cwd=self.tree or ROOT,
        )
        wait_listening(child, port, timeout_s=60)
        return Endpoint(f"http://127.0.0.1:{port}/v1", request_headers(), child, self.api)


# Every limit on the bench tenant, set so high that none refuses: the row measures the
# shared check (one Lua script per request, the settlement batched after the answer).
_UNREACHABLE_LIMITS = {
    "requests_per_minute": 10**9,
    "tokens_per_minute": 10**12,
    "cost_per_day_usd": 10**9,
    "cost_per_month_usd": 10**9,
}


@dataclass(frozen=True)
class SidecarWithRedisLimits:
    """The full pipeline with per-tenant limits checked in a local redis-server."""

    name: str
    group: str = "sidecar"
    api: Api = "chat"

    @staticmethod
    def overrides(redis_port: int) -> dict[str, Any]:
        return {
            "fleet": {
                "redis": {"url": f"redis://127.0.0.1:{redis_port}/0"},
                "limits": {"tenants": {TENANT: _UNREACHABLE_LIMITS}},
            }
        }

    def unavailable(self, tools: Path) -> str | None:
        if shutil.which("redis-server") is None:
            return "redis-server missing (make setup installs it)"
        return Sidecar(self.name, self.overrides(6379)).unavailable(tools)

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint:
        data = work / "redis"
        data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        redis = supervisor.start(
            f"{self.name}-redis",
            [
                shutil.which("redis-server") or "redis-server",
                *("--port", str(port), "--bind", "127.0.0.1", "--dir", str(data)),
                *("--save", "", "--appendonly", "no"),
            ],
            log=work / "redis.log",
        )
        wait_listening(redis, port, timeout_s=30)
        return Sidecar(self.name, self.overrides(port)).start(supervisor, upstream, work, tools)


@dataclass(frozen=True)
class LiteLLM:
    name: str
    workers: int = 1
    group: str = "litellm"
    # "responses": POST /v1/responses to a custom_openai/ deployment, which LiteLLM bridges
    # through the upstream's /chat/completions, the translation the sidecar does (an
    # openai/ deployment would pass it through to the upstream's own /responses).
    api: Api = "chat"

    def unavailable(self, tools: Path) -> str | None:
        binary = litellm_binary(tools)
        return None if binary.exists() else f"{binary} missing"

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint:
        work.mkdir(parents=True, exist_ok=True)
        config = work / "litellm.yaml"
        provider = "custom_openai" if self.api == "responses" else "openai"
        models = [
            {
                "model_name": alias,
                "litellm_params": {"model": model, "api_base": upstream, "api_key": API_KEY},
            }
            for alias, model in (
                ("default", f"{provider}/{UPSTREAM_MODEL}"),
                (EMBEDDING_MODEL, f"openai/{UPSTREAM_EMBEDDING_MODEL}"),
            )
        ]
        config.write_text(yaml.safe_dump({"model_list": models}))
        port = free_port()
        env = {
            **os.environ,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            # No master key, as our sidecar runs without caller tokens on loopback.
            "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        }
        argv = [str(litellm_binary(tools)), "--config", str(config), "--host", "127.0.0.1"]
        argv += ["--port", str(port), "--num_workers", str(self.workers)]
        child = supervisor.start(self.name, argv, log=work / "litellm.log", env=env, cwd=work)
        wait_listening(child, port, timeout_s=120)
        return Endpoint(f"http://127.0.0.1:{port}/v1", request_headers(), child, self.api)


@dataclass(frozen=True)
class Portkey:
    name: str = "portkey"
    group: str = "portkey"
    # "responses": Portkey's openai provider passes /v1/responses through to the
    # upstream's own /responses (nginx serves a canned Responses answer there).
    api: Api = "chat"

    def unavailable(self, tools: Path) -> str | None:
        entry = portkey_entry(tools)
        return None if entry.exists() else f"{entry} missing"

    def start(self, supervisor: Supervisor, upstream: str, work: Path, tools: Path) -> Endpoint:
        work.mkdir(parents=True, exist_ok=True)
        preload = work / "loopback.cjs"
        preload.write_text(_LOOPBACK_PRELOAD)
        port = free_port()
        argv = ["node", "--require", str(preload), str(portkey_entry(tools)), f"--port={port}"]
        argv.append("--headless")
        env = {**os.environ, "NODE_ENV": "production"}
        child = supervisor.start(self.name, argv, log=work / "portkey.log", env=env, cwd=work)
        wait_listening(child, port, timeout_s=60)
        headers = {
            **request_headers(),
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream,
        }
        return Endpoint(f"http://127.0.0.1:{port}/v1", headers, child, self.api)


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Direct(),
        Sidecar("sidecar"),
        # The full pipeline on the sources of the modules tools/native.py compiles.
        Sidecar("sidecar-pure", env={PURE_PYTHON_ENV: "1"}),
        Sidecar("sidecar-no-cache", {"policy": {"cache_size": 0}}),
        Sidecar("sidecar-no-redaction", {"stages": {"redaction": False}}),
        Sidecar("sidecar-no-audit", {"stages": {"audit": False}}),
        Sidecar("sidecar-bare", {"stages": {"redaction": False, "audit": False}}),
        # The same full pipeline with shared per-tenant limits in Redis on every request.
        SidecarWithRedisLimits("sidecar-redis-limits"),
        LiteLLM("litellm"),
        LiteLLM("litellm-2w", workers=2),
        Portkey(),
        # The Responses API beside chat: the same request, the same canned upstream.
        Sidecar("sidecar-responses", group="sidecar-responses", api="responses"),
        LiteLLM("litellm-responses", group="litellm-responses", api="responses"),
        Portkey("portkey-responses", group="portkey-responses", api="responses"),
    )
}
# Extra scenarios on request only: they cost minutes and answer narrower questions.
DEFAULT_SCENARIOS = [name for name in SCENARIOS if name not in ("litellm-2w", "sidecar-bare")]


def baseline(tree: Path) -> Sidecar:
    """The full pipeline as another checkout has it (`--baseline`), in its own group."""
    return Sidecar("sidecar-baseline", group="baseline", tree=tree.resolve())
