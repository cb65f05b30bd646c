"""The log index: built once, then extended by what the log gains; never past a torn line
or into the zero tail; rebuilt when the log under it was rewritten."""

from __future__ import annotations

import shutil
from pathlib import Path

from policy_engine.audit import hash_leaf, iter_records, tree_root
from policy_engine.console import Filters, LogIndex, Verifier, decisions, facets
from tests.impact._demo_log import DemoLog


def copy_of(log: DemoLog, to: Path) -> Path:
    shutil.copytree(log.settings.audit.dir, to)
    return to


def split_last_segment(directory: Path, keep: int) -> bytes:
    """Cut the last segment after `keep` lines; the lines cut, to append again later."""
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join(lines[:keep]))
    return b"".join(lines[keep:])


def test_the_index_holds_every_record_of_the_log(demo_log: DemoLog, tmp_path: Path) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    index = LogIndex(directory)
    added = index.refresh()
    assert added == index.size == sum(1 for _ in iter_records(directory))


def test_a_refresh_reads_only_what_was_appended(demo_log: DemoLog, tmp_path: Path) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    rest = split_last_segment(directory, keep=10)
    index = LogIndex(directory)
    first = index.refresh()
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    with segment.open("ab") as file:
        file.write(rest)
    assert index.refresh() == len(rest.splitlines())
    assert index.size == first + len(rest.splitlines())
    assert index.refresh() == 0


def test_a_torn_last_line_and_the_zero_tail_wait_for_the_writer(
    demo_log: DemoLog, tmp_path: Path
) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    rest = split_last_segment(directory, keep=10)
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    first_line, _, _ = rest.partition(b"\n")
    with segment.open("ab") as file:
        file.write(first_line[:40])  # a torn write
    index = LogIndex(directory)
    size = index.refresh() and index.size
    with segment.open("ab") as file:
        file.write(first_line[40:] + b"\n" + b"\0" * 4096)  # completed, then pre-zeroed space
    assert index.refresh() == 1
    assert index.size == size + 1
    assert index.line(size) == first_line


def test_a_log_whose_last_record_was_rewritten_is_indexed_again(
    demo_log: DemoLog, tmp_path: Path
) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    index = LogIndex(directory)
    size = index.refresh()
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    head, last = segment.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)
    segment.write_bytes(head + b"\n" + last.replace(b'"openai"', b'"openaj"') + b"\n")
    index.refresh()
    assert index.size == size
    assert index.leaves(size)[-1] == hash_leaf(last.replace(b'"openai"', b'"openaj"'))


def test_an_earlier_record_changed_under_the_index_fails_its_check(
    demo_log: DemoLog, tmp_path: Path
) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    index = LogIndex(directory)
    index.refresh()
    segment = sorted(directory.glob("segment-*.jsonl"))[0]
    segment.write_bytes(segment.read_bytes().replace(b'"answered"', b'"answerex"', 1))
    checks = {check.name: check.ok for check in Verifier(index, []).record_checks(1)}
    assert checks["unchanged"] is False


def test_each_checkpoint_gets_the_root_of_the_records_it_covers(
    demo_log: DemoLog, tmp_path: Path
) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    index = LogIndex(directory)
    index.refresh()
    leaves = index.leaves(index.size)
    rows = index.query("SELECT size, root, computed FROM checkpoints")
    assert rows
    for row in rows:
        assert bytes(row["computed"]) == tree_root(leaves[: row["size"]]) == bytes(row["root"])


def test_a_persisted_index_goes_on_where_it_stopped(demo_log: DemoLog, tmp_path: Path) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    rest = split_last_segment(directory, keep=10)
    first = LogIndex(directory, str(tmp_path / "index.sqlite"))
    size = first.refresh()
    first.close()
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    with segment.open("ab") as file:
        file.write(rest)
    again = LogIndex(directory, str(tmp_path / "index.sqlite"))
    assert again.refresh() == len(rest.splitlines())
    assert again.size == size + len(rest.splitlines())


def test_a_rebuilt_index_counts_each_record_once(demo_log: DemoLog, tmp_path: Path) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    index = LogIndex(directory)
    index.refresh()
    before = decisions(index, Filters(), ()).total
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    head, last = segment.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)
    segment.write_bytes(head + b"\n" + last.replace(b'"openai"', b'"openaj"') + b"\n")
    index.refresh()
    assert decisions(index, Filters(), ()).total == before
    assert facets(index, ()).tenants == tuple(sorted({s.tenant for s in demo_log.sent}))


def test_a_restarted_console_stops_at_the_same_damaged_line(
    demo_log: DemoLog, tmp_path: Path
) -> None:
    directory = copy_of(demo_log, tmp_path / "audit")
    segment = sorted(directory.glob("segment-*.jsonl"))[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(b"".join([*lines[:5], b"not a record\n", *lines[5:]]))
    first = LogIndex(directory, str(tmp_path / "index.sqlite"))
    first.refresh()
    damage, size = first.damage, first.size
    first.close()
    again = LogIndex(directory, str(tmp_path / "index.sqlite"))
    again.refresh()
    assert damage is not None and again.damage == damage
    assert again.size == size
