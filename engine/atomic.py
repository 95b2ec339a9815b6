"""Write a file completely or not at all: a temporary file beside it, renamed into place."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import UserError


def write_atomically(path: Path, text: str) -> None:
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    except OSError as error:
        raise UserError(f"{path}: cannot write: {error}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
