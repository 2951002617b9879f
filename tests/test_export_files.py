"""Prepared export files: a session's directory goes when the session does; leftovers are swept."""

from __future__ import annotations

import gc
import os
import stat
import time
from pathlib import Path

import pytest

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


def test_an_export_root_others_can_open_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    from lib.errors import StoreError
    from lib.files.session_files import UnsafeExportRoot

    root = tmp_path / "exports"
    root.mkdir(mode=0o777)
    root.chmod(0o777)  # as another account's umask might leave it
    with pytest.raises(UnsafeExportRoot) as refused:
        SessionFiles(root)
    assert isinstance(refused.value, StoreError) and str(root) in str(refused.value)
    assert list(root.iterdir()) == []


def test_an_export_root_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    from lib.files.session_files import UnsafeExportRoot

    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "exports").symlink_to(target)
    with pytest.raises(UnsafeExportRoot):
        SessionFiles(tmp_path / "exports")
    assert list(target.iterdir()) == []


def test_an_export_root_of_another_account_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lib.files import session_files

    root = tmp_path / "exports"
    root.mkdir(mode=0o700)
    monkeypatch.setattr(session_files.os, "getuid", lambda: os.stat(root).st_uid + 1)  # we are someone else
    with pytest.raises(session_files.UnsafeExportRoot):
        session_files.SessionFiles(root)


def test_a_new_export_root_is_made_private(tmp_path: Path) -> None:
    files = SessionFiles(tmp_path / "new" / "exports")
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "exports").st_mode) == 0o700
    files.close()
