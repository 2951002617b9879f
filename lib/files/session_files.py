"""Prepared export files: one private temporary directory per browser session.

A million-row CSV is about 100 MB, so where it lives and when it goes is a promise:

* a session's files live in its own directory under ``<tmp>/dashboard-exports/``, created on the
  session's first export;
* a file exists only while its download is offered: preparing another export of the same kind
  replaces it, and one whose filters no longer match the screen is deleted (``SessionFiles.discard``);
* the directory is removed when the session ends (Streamlit keeps no session-end hook for scripts:
  the ``SessionFiles`` object lives in ``st.session_state``, and ``weakref.finalize`` removes the
  directory when the session's state is dropped, at sign-out, which clears the session state, or when
  the server process exits);
* a process killed before any of that leaves its directory behind: every new session sweeps session
  directories untouched for ``MAX_AGE_SECONDS`` (a day).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
import weakref
from pathlib import Path

from lib.errors import StoreError
from lib.i18n import _

ROOT = Path(tempfile.gettempdir()) / "dashboard-exports"
MAX_AGE_SECONDS = 24 * 3600


def sweep(root: Path = ROOT, *, max_age: float = MAX_AGE_SECONDS) -> int:
    """Remove session directories under ``root`` not modified for ``max_age`` seconds; returns how many."""
    removed = 0
    cutoff = time.time() - max_age
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


class UnsafeExportRoot(StoreError):
    """The export root exists but is not this process's own private directory: no export file is written there."""

    def __init__(self, root: Path) -> None:
        super().__init__(_("Exports are turned off on this server: the folder for export files ({path}) is not a "
                           "private folder of the dashboard's own account (another account owns it, or others can "
                           "open it). Ask the operator to remove it, or to point TMPDIR elsewhere.").format(path=root))


def private_root(root: Path) -> Path:
    """``root``, created as a directory only this process's user may open (0700), or checked to be one: owned by
    this user, not a symlink, no access for group or others.  Another local account may have created it first
    (a shared /tmp): then UnsafeExportRoot, and nothing is written."""
    try:
        root.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(root)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise UnsafeExportRoot(root)
    return root


class SessionFiles:
    """One session's export directory, removed when this object is garbage-collected or ``close``d."""

    def __init__(self, root: Path = ROOT) -> None:
        private_root(root)
        sweep(root)
        self.path = Path(tempfile.mkdtemp(prefix=f"session-{os.getpid()}-", dir=root))
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.path), True)

    def file(self, name: str) -> Path:
        """The path for export ``name`` (a previous file of that name is removed first: replaced)."""
        self.discard(name)
        os.utime(self.path)  # a live session's directory is never swept
        return self.path / f"{name}.csv"

    def discard(self, name: str) -> None:
        (self.path / f"{name}.csv").unlink(missing_ok=True)

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive
