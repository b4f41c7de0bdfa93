"""edge/ must run on the device without torch, nncf or compress/ (architecture rule)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EDGE = Path(__file__).resolve().parent.parent / "edge"
FORBIDDEN = {"torch", "nncf", "torch_pruning", "compress", "torchvision", "timm"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_edge_module_imports_workstation_packages() -> None:
    offenders = {str(p.relative_to(EDGE)): sorted(_imported_roots(p) & FORBIDDEN) for p in EDGE.rglob("*.py")}
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}


def test_edge_cli_runs_with_workstation_packages_blocked() -> None:
    """Import every edge module and build the CLI in a process where torch/nncf/compress cannot import."""
    code = (
        "import sys, importlib, pkgutil\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {sorted(FORBIDDEN)!r}: raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import edge\n"
        "skip = {'edge.backends.tensorrt_backend', 'edge.engines.trt_builder'}\n"
        "for m in pkgutil.walk_packages(edge.__path__, 'edge.'):\n"
        "    if m.name not in skip and not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
        "from edge.cli import main\n"
        "sys.exit(main(['--version']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=EDGE.parent)
    assert proc.returncode == 0, proc.stderr
    assert "fetal-edge" in proc.stdout
