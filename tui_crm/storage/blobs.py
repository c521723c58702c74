"""Attachment contents on disk: one file per content (by SHA-256) under the data dir.

Below services and sync alike, so a file a user attaches and one a sync
brings in are kept the same way: written once, atomically, readable by the
owner only.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def blob_path(files_dir: Path, sha256: str) -> Path:
    """Where the content with this hash lives (two-letter fan-out keeps folders small)."""
    return files_dir / sha256[:2] / sha256


def keep_blob(files_dir: Path, sha256: str, *, content: bytes | None = None, source: Path | None = None) -> Path:
    """Store ``content`` (or a copy of ``source``) under its hash unless already there."""
    target = blob_path(files_dir, sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        if source is not None:
            shutil.copyfile(source, tmp)
        else:
            tmp.write_bytes(content or b"")
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    return target
