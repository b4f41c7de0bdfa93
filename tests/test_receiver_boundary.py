"""receiver/ (the central server) imports only the device modules docs/architecture.md allows it."""

from __future__ import annotations

import ast
from pathlib import Path

RECEIVER = Path(__file__).resolve().parent.parent / "receiver"
ALLOWED_EDGE = {"edge.errors", "edge.sync.checks", "edge.sync.payload", "edge.sync.transport",
                "edge.clinical.standards", "edge.clinical.alerts", "edge.results", "edge.sync.fhir"}


def _edge_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    return {m for m in found if m == "edge" or m.startswith("edge.")}


def test_receiver_imports_only_the_documented_edge_modules() -> None:
    used = set().union(*(_edge_imports(p) for p in RECEIVER.rglob("*.py")))
    assert used == ALLOWED_EDGE
    doc = (RECEIVER.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `receiver/`"))
    assert all(f"`{m}`" in row for m in ALLOWED_EDGE), row
