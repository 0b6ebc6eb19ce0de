"""The layers of docs/architecture.md hold: lib/ never imports Streamlit, each stage package imports
only lib.errors and the packages below it (not even lazily), and nothing in lib/ or pages/ imports
in a circle."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIB = ROOT / "lib"
ORDER = (  # low to high; a package may import the ones before it
    "ingest", "store", "reduce", "measure", "cluster", "embed", "query", "teach", "service",
)  # fmt: skip
ABOVE_SERVICE = {"figures": set(ORDER), "share": set(ORDER), "batch": {*ORDER, "share"}}
BELOW = {name: set(ORDER[:position]) for position, name in enumerate(ORDER)} | ABOVE_SERVICE


def imported_modules(path: Path) -> set[str]:
    """Every absolute module `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_lib_module_sits_in_a_known_stage():
    packages = {path.parent.name for path in LIB.glob("*/__init__.py")}
    assert packages == set(BELOW), f"stage packages {sorted(packages)} != {sorted(BELOW)}"


@pytest.mark.parametrize("package", sorted(BELOW))
def test_a_stage_imports_only_the_stages_below_it(package):
    allowed = BELOW[package] | {package}
    for path in sorted((LIB / package).rglob("*.py")):
        for module in imported_modules(path):
            parts = module.split(".")
            assert parts[0] != "streamlit", f"{path.name} imports Streamlit"
            if parts[0] == "lib" and len(parts) > 1 and parts[1] not in {"errors", "precompute"}:
                assert parts[1] in allowed, f"lib/{package}/{path.name} imports {module}"


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (lib/ and pages/)."""
    paths = sorted(LIB.rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py"))
    modules = {module_name(path): path for path in paths}
    return {
        name: {
            found
            for found in imported_modules(path)
            if found in modules and not (name == found or name.startswith(found + "."))
        }  # a module's own package runs first whatever it imports: not a circle of ours
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in `graph` (its modules in order), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_in_lib_or_pages_imports_in_a_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# What only the engine may do: build keys, load models, embed, measure, read GloVe. Pages ask
# `engine()` for each (pages/_common.py holds the thin shells), and cache resources only.
ENGINE_ONLY = {
    "text_key", "result_key", "values_digest", "embed_texts", "embed_in_steps", "load_model",
    "load_glove", "exact_knn", "neighbors_of", "top_k", "misplaced_neighbors", "recovery_report",
    "label_recovery", "neighbor_agreement", "random_like", "sizes_and_gaps", "seed_agreement",
    "opposite_pairs_report", "analogy_benchmark", "corpus_examples", "project_umap",
    "project_at_scale", "cluster_corpus", "cluster_at_scale", "honesty_report",
}  # fmt: skip


def page_files() -> list[Path]:
    return [*sorted((ROOT / "pages").rglob("*.py")), ROOT / "app.py"]


@pytest.mark.parametrize("path", page_files(), ids=lambda path: path.name)
def test_a_page_builds_no_key_and_calls_nothing_below_the_engine(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib."):
            used = {alias.name for alias in node.names} & ENGINE_ONLY
            assert not used, f"{path.name} imports {sorted(used)} from {node.module}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "Embedding", f"{path.name} builds an Embedding itself"
        if isinstance(node, ast.Attribute) and node.attr == "cache_data":
            raise AssertionError(f"{path.name} uses st.cache_data: pages cache resources only")
