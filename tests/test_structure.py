"""The architecture, checked over the source's import statements (every one, function-local imports included):
which package may import which, no circles between services, no framework in the rules, and services that
never end a transaction themselves."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder -> the import name it is installed under (pyproject.toml, [tool.setuptools.package-dir])
PACKAGES = {"registry": "reproreg", "client": "regctl", "schemas": "reproreg_schemas",
            "migrations": "reproreg_migrations", "worker": "reproreg_worker"}
#: what each package must never import
FORBIDDEN = {
    "reproreg": ("regctl", "reproreg_worker"),  # the server is not a client of itself
    "regctl": ("reproreg", "reproreg_worker", "reproreg_migrations"),
    "reproreg_schemas": ("reproreg", "regctl", "reproreg_worker", "reproreg_migrations", "flask", "sqlalchemy"),
    "reproreg_worker": ("reproreg", "reproreg_migrations", "flask", "sqlalchemy"),  # an HTTP client like any other
}
SERVICES = "reproreg.services"


def modules() -> dict[str, Path]:
    found = {}
    for folder, name in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((name, *parts))] = path
    return found


def imports_of(module: str, path: Path) -> set[str]:
    """Every module named by an import statement anywhere in the file (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {module: imports_of(module, path) for module, path in modules().items()}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_every_folder_is_found_under_its_import_name(graph):
    for name in PACKAGES.values():
        if (ROOT / next(f for f, n in PACKAGES.items() if n == name)).is_dir():
            assert name in graph, f"{name} has no __init__.py"
    assert "reproreg.services.publish" in graph and "regctl.cli" in graph


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_the_layout_allows(graph, package):
    offences = sorted(f"{module} imports {name}" for module, names in graph.items() if _within(module, package)
                      for name in names for banned in FORBIDDEN[package] if _within(name, banned))
    assert offences == []


def test_services_know_nothing_of_the_web(graph):
    offences = sorted(f"{module} imports {name}" for module, names in graph.items() if _within(module, SERVICES)
                      for name in names if _within(name, "flask") or _within(name, "werkzeug")
                      or _within(name, "reproreg.api") or _within(name, "reproreg.web")
                      or _within(name, "reproreg.request_scope"))
    assert offences == []


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle in the directed graph, as a list of nodes that ends where it starts; None if there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def service_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    services = {module for module in graph if _within(module, SERVICES) and module != SERVICES}
    return {module: {name for name in graph[module] if name in services and name != module}
            for module in services}


def test_services_import_each_other_without_circles(graph):
    assert find_cycle(service_edges(graph)) is None


def test_the_cycle_finder_finds_a_circle_through_a_function_local_import(tmp_path):
    source = tmp_path / "badges.py"
    source.write_text("def states():\n    from reproreg.services.jobs import runnable\n")
    edges = {"reproreg.services.badges": {n for n in imports_of("reproreg.services.badges", source)
                                          if n.startswith(SERVICES)},
             "reproreg.services.jobs": {"reproreg.services.badges"}}
    assert find_cycle(edges) == ["reproreg.services.badges", "reproreg.services.jobs", "reproreg.services.badges"]


def transaction_calls(path: Path) -> list[str]:
    """``session.commit()``/``rollback()`` (or on any receiver but blob storage) in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback", "begin", "begin_nested")):
            receiver = ast.unparse(node.func.value)
            if not receiver.endswith("blobs") and not receiver.endswith("store"):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
    return found


def test_services_never_end_a_transaction():
    """The edge commits (reproreg.unit_of_work); services add and flush, so composed operations are atomic."""
    offences = [call for path in sorted((ROOT / "registry" / "services").glob("*.py"))
                for call in transaction_calls(path)]
    assert offences == []
