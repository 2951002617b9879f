"""Prepared export files: a session's directory goes when the session does; leftovers are swept."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from lib.files.session_files import SessionFiles, sweep


def test_a_sessions_directory_goes_with_the_session(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path)
    path = files.file("tests_export")
    path.write_bytes(b"x" * 1000)
    folder = files.path
    del files  # Streamlit drops a session's state when the session ends
    gc.collect()
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_replacing_and_discarding_remove_the_old_file(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path)
    files.file("a").write_bytes(b"old")
    again = files.file("a")
    assert not again.exists()  # the old file is gone before the new one is written
    again.write_bytes(b"new")
    files.file("b").write_bytes(b"other")
    files.discard("a")
    assert sorted(p.name for p in files.path.iterdir()) == ["b.csv"]
    files.close()
    assert files.closed and not files.path.exists()


def test_sweep_removes_only_stale_directories(tmp_path: Path) -> None:
    live = SessionFiles(tmp_path)
    live.file("a").write_bytes(b"live")
    stale = tmp_path / "session-1-crashed"
    stale.mkdir()
    (stale / "tests.csv").write_bytes(b"left behind by a killed process")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    assert sweep(tmp_path) == 1
    assert not stale.exists() and live.path.exists()
