"""Deleting what the runner created on disk, safely: never following a symbolic link out of it."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

from coordinator.errors import WorktreeError


def remove_tree(path: Path, attempts: int = 5) -> None:
    """Delete a file or directory tree, clearing read-only bits (git objects are read-only, which Windows
    refuses to delete) and retrying briefly (Windows also refuses while a just-stopped process holds files).

    A symbolic link (at ``path`` or anywhere inside it) is removed as a link: what it points to is never touched.
    """
    top = str(path)

    def make_writable_and_retry(func: Callable[..., object], failed: str, error: object) -> None:
        exc = error[1] if isinstance(error, tuple) else error
        if isinstance(exc, FileNotFoundError):
            return
        if os.path.islink(failed):  # chmod would follow it to whatever it points at
            os.unlink(failed)
            return
        parent = os.path.dirname(failed)
        if parent.startswith(top + os.sep):  # POSIX needs the directory writable to unlink in it
            os.chmod(parent, stat.S_IMODE(os.stat(parent).st_mode) | stat.S_IWRITE | stat.S_IEXEC | stat.S_IREAD)
        os.chmod(failed, stat.S_IWRITE | stat.S_IREAD | (stat.S_IEXEC if os.path.isdir(failed) else 0))
        func(failed)

    last: OSError | None = None
    for attempt in range(attempts):
        try:
            if os.path.islink(path):
                path.unlink()
            elif not path.is_dir():
                os.chmod(path, stat.S_IWRITE | stat.S_IREAD)
                path.unlink()
            elif sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=make_writable_and_retry)
            else:
                shutil.rmtree(path, onerror=make_writable_and_retry)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            last = exc
            time.sleep(0.2 * (attempt + 1))
    raise WorktreeError(
        f"cannot delete {path}: {last}",
        hint="stop any process still using files there (editor, agent, antivirus) and delete it by hand",
    )
