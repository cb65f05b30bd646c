"""The console's JSON API over a served demo log: filters, one request, its proof, the
checkpoints, revisions and impact, and what the OpenAPI document describes."""

from __future__ import annotations

import httpx

from policy_engine.audit import (
    PUBLIC_KEY_NAME,
    InclusionBundle,
    check_inclusion_bundle,
    load_public_key,
)
from tests.console.conftest import PROPOSAL, ServedConsole


def get(served: ServedConsole, path: str, **params: str) -> httpx.Response:
    return httpx.get(served.url + path, params=params, timeout=60)


def test_decisions_are_listed_newest_first_with_their_total(served: ServedConsole) -> None:
    body = get(served, "/api/decisions").json()
    seqs = [row["seq"] for row in body["rows"]]
    assert body["total"] == len(served.log.sent) + 1 == len(seqs)
    assert seqs == sorted(seqs, reverse=True)


def test_a_page_cursor_continues_with_older_records(served: ServedConsole) -> None:
    first = get(served, "/api/decisions", limit="5").json()
    second = get(served, "/api/decisions", limit="5", before=str(first["next_before"])).json()
    assert len(first["rows"]) == len(second["rows"]) == 5
    assert second["rows"][0]["seq"] < first["rows"][-1]["seq"]


def test_filters_by_provider_tried_outcome_and_denial_rule(served: ServedConsole) -> None:
    mistral = get(served, "/api/decisions", provider="mistral-eu").json()["rows"]
    assert mistral and all("mistral-eu" in row["attempts"] for row in mistral)
    assert all(row["fallback"] for row in mistral)  # it failed, so each fell back
    denied = get(served, "/api/decisions", outcome="denied").json()["rows"]
    assert [(r["tenant"], r["residency"]) for r in denied] == [("acme-eu", "us")]
    unknown = get(served, "/api/decisions", rule="unknown tenant").json()["rows"]
    assert [r["tenant"] for r in unknown] == ["unknown-co"]


def test_filters_by_revision_and_time_window(served: ServedConsole) -> None:
    revision = get(served, "/api/policies").json()["current_revision"]
    assert get(served, "/api/decisions", revision=revision).json()["total"] == len(served.log.sent)
    assert get(served, "/api/decisions", until="2000-01-01T00:00").json()["total"] == 0


def test_a_malformed_time_is_a_400_naming_the_field(served: ServedConsole) -> None:
    response = get(served, "/api/decisions", since="yesterday")
    assert response.status_code == 400
    assert "since" in response.json()["detail"]


def test_the_timeline_counts_every_outcome_and_the_fallbacks(served: ServedConsole) -> None:
    line = get(served, "/api/timeline").json()
    assert sum(sum(counts) for counts in line["outcomes"].values()) == len(served.log.sent) + 1
    assert sum(line["fallbacks"]) == len(
        get(served, "/api/decisions", provider="mistral-eu").json()["rows"]
    )


def test_one_request_has_its_intent_denials_and_a_verified_record(served: ServedConsole) -> None:
    sent = next(s for s in served.log.sent if s.tenant == "globex" and s.status == 200)
    view = get(served, f"/api/requests/{sent.request_id}").json()
    assert view["record"]["event"]["request_id"] == sent.request_id
    assert view["intent"]["request_id"] == sent.request_id
    assert view["intent_seq"] == view["record"]["event"]["intent_seq"]
    assert "tenant" in view["rules"]  # globex's allow and deny lists
    assert view["verified"] is True
    assert {check["name"] for check in view["checks"]} == {
        "unchanged",
        "chained",
        "signature",
        "checkpoint",
    }


def test_an_unknown_request_id_is_a_404(served: ServedConsole) -> None:
    assert get(served, "/api/requests/nope").status_code == 404
    assert get(served, "/api/requests/nope/proof").status_code == 404


def test_the_proof_is_the_bundle_audit_prove_gives_and_it_checks(served: ServedConsole) -> None:
    sent = served.log.sent[0]
    response = get(served, f"/api/requests/{sent.request_id}/proof")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="proof-{sent.request_id}.json"'
    )
    key = load_public_key(served.log.settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME)
    record = check_inclusion_bundle(InclusionBundle.from_json(response.json()), [key])
    assert record.event["request_id"] == sent.request_id


def test_every_checkpoint_is_signed_and_reproduced_by_the_log(served: ServedConsole) -> None:
    served.console.verifier.wait(30)
    body = get(served, "/api/checkpoints").json()
    assert body["checkpoints"]
    assert all(c["signature"]["ok"] and c["consistent"] for c in body["checkpoints"])
    served.console.verifier.wait(30)
    status = get(served, "/api/verify").json()
    assert status["state"] == "ok" and status["records"] > len(served.log.sent)


def test_the_impact_api_is_the_cli_report(served: ServedConsole) -> None:
    report = get(served, f"/api/impact/{PROPOSAL}").json()
    assert report["summary"]["newly_denied"] == 1
    assert get(served, "/api/impact/elsewhere").status_code == 404


def test_pages_carry_a_strict_content_security_policy(served: ServedConsole) -> None:
    response = get(served, "/")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in response.text


def test_the_openapi_document_describes_the_json_api(served: ServedConsole) -> None:
    paths = get(served, "/openapi.json").json()["paths"]
    assert {"/api/decisions", "/api/requests/{request_id}/proof", "/api/impact/{name}"} <= set(
        paths
    )
    assert not any(path.startswith("/login") for path in paths)
