"""Where a model came from, written without the training machine's paths.

Manifests and training logs are shipped: a temporary folder such as /tmp/ana/la-import.pt means
nothing to a reader and leaks the machine's layout. Data is recorded as a description (source,
seeds, counts) and files as paths relative to the run (or their bare name)."""

from __future__ import annotations

import os
import re
from typing import Any, Optional

# An absolute POSIX path (/x/y) or a drive path (C:\x, C:/x) that starts a token: after the start,
# whitespace, '(', '[', '=' or a quote (not ':', so URLs pass), so fractions and "and/or" are not taken for paths;
# a slash standing alone ("7379 train / 96 val") is not a path either.
_ABSOLUTE = re.compile(r"""(?:^|(?<=[\s(\[='"]))(?:/(?=[^\s,;()\[\]'"])|[A-Za-z]:[\\/])[^\s,;()\[\]'"]*""")


def portable_path(path: Optional[str], base: Optional[str] = None) -> str:
    """``path`` relative to ``base`` when it lies inside it, else its last component; "" for none."""
    if not path:
        return ""
    full = os.path.abspath(path)
    if base:
        rel = os.path.relpath(full, os.path.abspath(base))
        if rel != ".." and not rel.startswith(".." + os.sep):
            return rel
    return os.path.basename(full.rstrip(os.sep)) or full


def _last_component(match: "re.Match[str]") -> str:
    text = match.group(0).rstrip("/\\")
    name = re.split(r"[\\/]", text)[-1]
    return name or "(path)"


def scrub_absolute_paths(value: Any) -> Any:
    """A copy of a JSON-like value with every absolute path inside its strings cut to its last
    component (a checkpoint written before this rule, or a `lascar dataset --source` left at its
    default folder, may still hold one)."""
    if isinstance(value, str):
        return _ABSOLUTE.sub(_last_component, value)
    if isinstance(value, dict):
        return {k: scrub_absolute_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_absolute_paths(v) for v in value]
    return value


def absolute_paths_in(value: Any) -> list:
    """Every absolute path found in the strings of a JSON-like value (for tests and checks)."""
    found: list = []
    if isinstance(value, str):
        found.extend(m.group(0) for m in _ABSOLUTE.finditer(value))
    elif isinstance(value, dict):
        for v in value.values():
            found.extend(absolute_paths_in(v))
    elif isinstance(value, (list, tuple)):
        for v in value:
            found.extend(absolute_paths_in(v))
    return found
