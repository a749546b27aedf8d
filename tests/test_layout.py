"""The layout of DESIGN.md, checked on the source: three floors (core, data and encoders at the bottom; the stage
families, experiment and config above them and not on each other; the runner, registry and cli on top), no import
cycle between modules at import time, and none across packages even through imports inside functions."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "transformers_ir"
BOTTOM = {"core", "data", "encoders"}
MIDDLE = {"sparse", "dense", "rerank", "generative", "experiment", "config"}
ALLOWED = {"core": set(), "data": {"core"}, "encoders": {"core"},
           **{name: BOTTOM for name in MIDDLE}}


def imports(module_level: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (``transformers_ir.x.y``; a package is its ``__init__``); with
    ``module_level``, only the imports run at import time (not those inside functions or ``if TYPE_CHECKING``)."""
    modules = {".".join(f.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__"): f
               for f in PACKAGE.rglob("*.py")}
    graph = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        found = set()
        tree = ast.parse(path.read_text())
        for node in (tree.body if module_level else ast.walk(tree)):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("transformers_ir")):
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
                target = ".".join(p for p in (base, node.module) if p)
                names = [f"{target}.{a.name}" for a in node.names]
                found |= {n for n in names if n in modules} or ({target} if target in modules else set())
                found |= {target} if target in modules and not any(n in modules for n in names) else set()
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
        graph[module] = found - {module}
    return graph


def floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "<top>"


def test_no_module_imports_a_higher_floor_or_a_sibling_family():
    wrong = [(m, t) for m, targets in imports().items() for t in targets
             if floor(m) in ALLOWED and floor(t) != floor(m) and floor(t) not in ALLOWED[floor(m)]]
    assert wrong == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state, found = {}, []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_cycles():
    assert cycles(imports(module_level=True)) == []
    across = [c for c in cycles(imports()) if len({floor(m) for m in c}) > 1 and "<top>" not in {floor(m) for m in c}]
    assert across == []
