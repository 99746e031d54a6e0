"""Rules about the shape of the code that a reader should not have to re-check by hand.

The import graph is read from the source (every `import`, at module level or inside a
function, except under `if TYPE_CHECKING:`), so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("dataops_cli", "handler")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))}


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _imports(node)


def imported_names(name: str, path: Path) -> set[str]:
    """Every module `name` imports, project or not (absolute names; relative imports resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {
        name: {m for m in imported_names(name, path) if m in modules and m != name} for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walker_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "dataops_cli.local.bridge" in graph["dataops_cli.cli.app"]  # imported inside a method
    assert "handler.contract" in graph["handler.lambda_function"]  # `from . import contract`
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_the_projects_modules():
    assert cycles(import_graph()) == []


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def all_imports() -> dict[str, set[str]]:
    return {name: imported_names(name, path) for name, path in project_modules().items()}


def is_emulator(name: str) -> bool:
    return name == "dataops_cli.emulator" or name.startswith("dataops_cli.emulator.")


def test_the_cli_side_never_imports_the_emulator_server_or_moto():
    graph, imports = import_graph(), all_imports()
    cli_side = [name for name in graph if name.startswith("dataops_cli") and not is_emulator(name)]
    assert "dataops_cli.local.bridge" in cli_side and "dataops_cli.cli" in cli_side
    for name in cli_side:
        closure = {name} | reachable(graph, name)
        assert not [m for m in closure if is_emulator(m)], f"{name} reaches the emulator's server code"
        moto = {i for m in closure for i in imports[m] if i == "moto" or i.startswith("moto.")}
        assert not moto, f"{name} imports moto ({sorted(moto)})"


def test_only_moto_internals_reads_moto():
    for name, imported in all_imports().items():
        if name != "dataops_cli.emulator.moto_internals":
            assert not {i for i in imported if i == "moto" or i.startswith("moto.")}, name


def test_the_handler_never_imports_the_cli():
    for name, imported in all_imports().items():
        if name.startswith("handler"):
            assert not {i for i in imported if i.startswith("dataops_cli")}, name


def readme_tree() -> str:
    """The tree block of docs/architecture.md (README links it; it held the block before issue 21)."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    return text.split("## The tree\n\n```\n", 1)[1].split("```", 1)[0]


def test_the_readme_architecture_block_names_every_module_and_package_and_nothing_else():
    block = readme_tree()
    named = set(re.findall(r"[\w/]+\.py|\b\w+/", block))
    on_disk = {
        path.name
        for package in PACKAGES
        for path in (REPO / package).iterdir()
        if path.suffix == ".py" and path.name not in ("__init__.py", "__main__.py")
    }
    on_disk |= {
        f"{path.name}/"
        for package in PACKAGES
        for path in (REPO / package).iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    on_disk |= {f"{package}/" for package in PACKAGES}
    assert on_disk - named == set(), "modules missing from docs/architecture.md's tree"
    in_subpackages = {p.name for package in PACKAGES for p in (REPO / package).rglob("*.py")}
    assert {n for n in named if n.endswith(".py")} - in_subpackages - on_disk == set(), (
        "docs/architecture.md names absent files"
    )


ENGINE_NAMES = ("lambda", "glue")
ENGINE_SEAM = ("dataops_cli.engines", "dataops_cli.config")  # the implementations, and config validation


def _names_an_engine(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ENGINE_NAMES
    return (isinstance(node, ast.Attribute) and node.attr == "engine") or (
        isinstance(node, ast.Name) and node.id == "engine"
    )


def engine_tests(tree: ast.AST) -> list[int]:
    """Lines comparing an engine name (`x.engine == ...`, `engine in ...`, `... == "glue"`)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        equality = any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops)
        if equality and any(_names_an_engine(side) for side in [node.left, *node.comparators]):
            found.append(node.lineno)
    return found


def test_the_finder_sees_engine_tests():
    assert engine_tests(ast.parse('if config.function.engine == "glue": pass')) == [1]
    assert engine_tests(ast.parse("x = engine in resource.engines\ny = 'lambda' != name")) == [1, 2]
    assert engine_tests(ast.parse("if engine.traits.runs_function: pass")) == []


def test_only_the_engines_and_config_validation_test_the_engine_name():
    """Everything else asks the Engine (engines/base.py) or its Traits: one seam, chosen once per command."""
    offenders = {
        name: lines
        for name, path in project_modules().items()
        if name.startswith("dataops_cli")
        and not name.startswith(ENGINE_SEAM)
        and not is_emulator(name)
        and (lines := engine_tests(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert offenders == {}


TERMINAL_BASICS = ("dataops_cli.ui", "dataops_cli.safe_text", "dataops_cli.sparkline")  # shared by every view


def may_use_the_terminal(name: str) -> bool:
    return name.startswith("dataops_cli.cli.") or name.endswith("_view") or name in TERMINAL_BASICS


def test_only_the_cli_and_views_import_click_or_rich():
    imports = all_imports()
    offenders = {
        name: sorted(i for i in imported if i.split(".")[0] in ("click", "rich"))
        for name, imported in imports.items()
        if name.startswith("dataops_cli") and not is_emulator(name) and not may_use_the_terminal(name)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60  # from `def` to the last line, docstring included (decorators not counted)
GENERATED: set[str] = set()  # modules of generated data may be longer (none today)
# issue 22 split every handler/ module and function that did not fit: nothing is pending.
HANDLER_PENDING_MODULES: set[str] = set()
HANDLER_PENDING_FUNCTIONS: set[str] = set()


def long_functions(tree: ast.AST, limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """name -> lines, for every function or method longer than `limit` (nested ones too)."""
    return {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > limit
    }


def source_files() -> dict[str, Path]:
    return {str(path.relative_to(REPO)): path for path in project_modules().values()}


def test_the_measure_counts_a_function_from_def_to_its_last_line():
    body = "\n".join(f"    x{i} = {i}" for i in range(60))
    assert long_functions(ast.parse(f"@decorator\ndef f():\n{body}\n")) == {"f": 61}
    assert long_functions(ast.parse(f"def g():\n{body[: body.rindex(chr(10))]}\n")) == {}


def test_no_module_over_400_lines():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in source_files().items()}
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES and name not in GENERATED}
    assert set(over) - HANDLER_PENDING_MODULES == set(), over
    assert HANDLER_PENDING_MODULES - set(over) == set(), "a pending module fits now: remove it from the list"


def test_no_function_over_60_lines():
    over = {
        f"{name}:{function}": n
        for name, path in source_files().items()
        if name not in GENERATED
        for function, n in long_functions(ast.parse(path.read_text(encoding="utf-8"))).items()
    }
    assert set(over) - HANDLER_PENDING_FUNCTIONS == set(), over
    assert HANDLER_PENDING_FUNCTIONS - set(over) == set(), "a pending function fits now: remove it from the list"


CONCERNS = ("cli", "deploy", "deploy/resources", "observe", "cost", "engines")  # listed module by module


def test_the_tree_names_every_module_of_the_folders_by_concern():
    named = set(re.findall(r"[\w/]+\.py", readme_tree()))
    for folder in CONCERNS:
        on_disk = {p.name for p in (REPO / "dataops_cli" / folder).glob("*.py") if p.name != "__init__.py"}
        assert on_disk - named == set(), f"dataops_cli/{folder}/ modules missing from docs/architecture.md's tree"


def test_the_folders_by_concern_exist_and_the_flat_modules_are_gone():
    top = {p.name for p in (REPO / "dataops_cli").iterdir()}
    assert {"cli", "deploy", "observe", "cost", "engines", "local", "emulator"} <= top
    assert not top & {"cli.py", "stack.py", "status.py", "cost.py", "glue_run.py", "app.py"}
