import shutil
import subprocess
from pathlib import Path

import pytest

from bench.gateway._gateways import (
    _LOOPBACK_PRELOAD,
    _PATHS,
    DEFAULT_SCENARIOS,
    SCENARIOS,
    Endpoint,
    LiteLLM,
    Sidecar,
    SidecarWithRedisLimits,
)
from bench.gateway._payload import API_MODES, TENANT


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n.startswith("sidecar")])
def test_every_sidecar_scenario_config_is_accepted(name: str, tmp_path: Path) -> None:
    assert SCENARIOS[name].unavailable(tmp_path) is None


def test_the_redis_limits_row_runs_in_the_default_set_beside_the_plain_sidecar() -> None:
    assert {"sidecar", "sidecar-redis-limits"} <= set(DEFAULT_SCENARIOS)
    limits = SidecarWithRedisLimits.overrides(6379)["fleet"]["limits"]["tenants"]
    assert set(limits) == {TENANT}


def test_a_stage_switch_the_config_rejects_skips_the_scenario(tmp_path: Path) -> None:
    scenario = Sidecar("sidecar-no-such", {"stages": {"telepathy": False}})
    reason = scenario.unavailable(tmp_path)
    assert reason is not None
    assert "telepathy" in reason


def test_default_run_covers_direct_each_stage_and_both_rivals() -> None:
    groups = {SCENARIOS[name].group for name in DEFAULT_SCENARIOS}
    assert groups == {
        "direct",
        "sidecar",
        "litellm",
        "portkey",
        "sidecar-responses",
        "litellm-responses",
        "portkey-responses",
    }
    assert {"sidecar-no-cache", "sidecar-no-redaction", "sidecar-no-audit"} <= set(
        DEFAULT_SCENARIOS
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="no node")
def test_portkey_preload_binds_a_portless_listen_to_loopback(tmp_path: Path) -> None:
    preload = tmp_path / "loopback.cjs"
    preload.write_text(_LOOPBACK_PRELOAD)
    script = (
        "const s = require('http').createServer();"
        "s.listen(0, () => { console.log(s.address().address); s.close(); });"
    )
    done = subprocess.run(
        ["node", "--require", str(preload), "-e", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.strip() == "127.0.0.1"


def test_the_responses_rows_send_the_responses_api_and_litellm_translates_it(
    tmp_path: Path,
) -> None:
    for name in ("sidecar-responses", "litellm-responses", "portkey-responses"):
        assert SCENARIOS[name].api == "responses"
    litellm = SCENARIOS["litellm-responses"]
    assert isinstance(litellm, LiteLLM)
    # custom_openai/ is bridged through /chat/completions, as the sidecar translates.
    assert litellm.api == "responses"


def test_each_api_mode_has_a_path_and_nothing_else_does() -> None:
    assert set(_PATHS) == {(api, mode) for api, modes in API_MODES.items() for mode in modes}


def test_an_endpoint_sends_each_mode_to_its_apis_route() -> None:
    chat = Endpoint("http://127.0.0.1:1/v1", {}, None)
    responses = Endpoint("http://127.0.0.1:1/v1", {}, None, "responses")
    assert chat.url("stream") == "http://127.0.0.1:1/v1/chat/completions"
    assert chat.url("embeddings") == "http://127.0.0.1:1/v1/embeddings"
    assert responses.url("json") == responses.url("stream") == "http://127.0.0.1:1/v1/responses"
