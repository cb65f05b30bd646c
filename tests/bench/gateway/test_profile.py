from bench.gateway._profile import component, fold

_STACKS = """\
<module> (run.py:10);serve (policy_engine/app.py:5);redact (redaction.py:40) 30
<module> (run.py:10);serve (policy_engine/app.py:6);redact (redaction.py:41) 10
<module> (run.py:10);serve (policy_engine/app.py:7);sign (policy_engine/audit.py:9) 40
<module> (run.py:10);serve (policy_engine/app.py:8) 20
"""


def test_self_share_adds_a_functions_lines_together() -> None:
    spots = fold(_STACKS)
    assert spots.samples == 100
    assert dict(spots.self_share)["redact (redaction.py)"] == 40


def test_total_share_counts_a_function_once_per_stack() -> None:
    spots = fold(_STACKS)
    assert dict(spots.total_share)["serve (policy_engine/app.py)"] == 100
    assert dict(spots.total_share)["sign (policy_engine/audit.py)"] == 40


def test_self_share_is_sorted_largest_first() -> None:
    assert [name for name, _ in fold(_STACKS).self_share][:2] == [
        "redact (redaction.py)",
        "sign (policy_engine/audit.py)",
    ]


def test_lines_that_are_not_stacks_are_ignored() -> None:
    assert fold("garbage\n\n").samples == 0


def test_total_share_lists_only_our_own_functions() -> None:
    stacks = "run (uvicorn/main.py:1);handle (policy_engine/pipeline/_pipeline.py:9) 5\n"
    assert [name for name, _ in fold(stacks).total_share] == [
        "handle (policy_engine/pipeline/_pipeline.py)"
    ]


def test_components_group_our_code_by_stage_and_libraries_by_package() -> None:
    assert component("detect (policy_engine/redaction/_patterns.py)") == "policy_engine/redaction"
    assert component("_request (aiohttp/client.py)") == "aiohttp"
