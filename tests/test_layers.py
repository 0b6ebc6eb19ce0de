"""The layers of docs/architecture.md hold: lib/ never imports Streamlit, and each stage package
imports only lib.errors and the packages below it."""

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib"
BELOW = {
    "engine": set(),
    "query": {"engine"},
    "figures": {"engine", "query"},
    "share": {"engine"},
    "teach": {"engine", "query"},
    "batch": {"engine", "share"},
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(BELOW))
def test_a_stage_imports_only_the_stages_below_it(package):
    allowed = BELOW[package] | {package}
    for path in sorted((LIB / package).rglob("*.py")):
        for module in imported_modules(path):
            parts = module.split(".")
            assert parts[0] != "streamlit", f"{path.name} imports Streamlit"
            if parts[0] == "lib" and len(parts) > 1 and parts[1] != "errors":
                assert parts[1] in allowed, f"lib/{package}/{path.name} imports {module}"
