"""The capacity search of `make bench-load`: the largest N that holds the goal, found in few probes."""

from __future__ import annotations

from bench.load import Search


def probes_until_done(limit: int, *, cap: int = 64) -> tuple[int, list[int]]:
    """Run a search against a server that holds exactly ``limit`` sessions."""
    search = Search(cap=cap)
    tried = []
    while (n := search.next()) is not None:
        tried.append(n)
        search.record(n, n <= limit)
        assert len(tried) < 20, tried
    return search.capacity, tried


def test_doubles_then_bisects_to_within_a_quarter() -> None:
    found, tried = probes_until_done(11)
    assert tried[:4] == [2, 4, 8, 16]
    assert 9 <= found <= 11 and found >= 11 - max(1, found // 4)
    assert len(tried) <= 7


def test_exact_when_small() -> None:
    assert probes_until_done(3)[0] == 3
    assert probes_until_done(5)[0] >= 4


def test_no_session_held_and_the_cap() -> None:
    assert probes_until_done(0) == (0, [2, 1])
    assert probes_until_done(1) == (1, [2, 1])
    assert probes_until_done(1000, cap=32) == (32, [2, 4, 8, 16, 32])
