"""Every edge/ module imports, under whichever Python runs the tests: `make test-device` runs this under Python
3.8 (JetPack 5.1) and 3.10 (JetPack 6), where a `dict[str, X]` evaluated at import or other 3.9+ syntax in any
module fails (issue #26 finding 4: edge/sources/__init__.py did)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import edge


def test_every_edge_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(edge.__path__, "edge.") if not m.name.endswith("__main__")]
    failed = {}
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every module that fails, not only the first
            failed[name] = f"{type(exc).__name__}: {exc}"
    assert len(names) > 50
    assert not failed, f"Python {sys.version.split()[0]}: {failed}"
