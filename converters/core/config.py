"""Config files of every toolchain: read a JSON file, and refuse unknown keys with a "did you mean"."""
from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Iterable

from edgekit.errors import ConfigError


def read_json(path: Path, missing_hint: str) -> dict:
    """Parse the JSON config file ``path``; ConfigError when it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("does not exist", path, missing_hint)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"is not valid JSON ({exc})", path, "fix the syntax") from None


def reject_unknown(data: dict, known: Iterable[str], source: str) -> None:
    """ConfigError for the first key of ``data`` not in ``known``, suggesting the closest known key."""
    known = set(known)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(known))}"
            raise ConfigError(f"unknown key {key!r}", source, hint)
