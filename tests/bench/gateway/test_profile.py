from bench.gateway._profile import fold

_STACKS = """\
<module> (run.py:10);serve (app.py:5);redact (redaction.py:40) 30
<module> (run.py:10);serve (app.py:6);redact (redaction.py:41) 10
<module> (run.py:10);serve (app.py:7);sign (audit.py:9) 40
<module> (run.py:10);serve (app.py:8) 20
"""


def test_self_share_adds_a_functions_lines_together() -> None:
    spots = fold(_STACKS)
    assert spots.samples == 100
    assert dict(spots.self_share)["redact (redaction.py)"] == 40


def test_total_share_counts_a_function_once_per_stack() -> None:
    spots = fold(_STACKS)
    assert dict(spots.total_share)["serve (app.py)"] == 100
    assert dict(spots.total_share)["sign (audit.py)"] == 40


def test_self_share_is_sorted_largest_first() -> None:
    assert [name for name, _ in fold(_STACKS).self_share][:2] == [
        "redact (redaction.py)",
        "sign (audit.py)",
    ]


def test_lines_that_are_not_stacks_are_ignored() -> None:
    assert fold("garbage\n\n").samples == 0
