"""The controller's layers, read from its source: the simulator stands on the controller, never under it, and
no part of the controller imports one that stands above it.

Every module under controller/ is parsed (nothing is imported, so an import inside a function counts as much
as one at the top) and each of its imports resolved to an absolute module name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONTROLLER = Path(__file__).resolve().parent.parent / "controller"

# (importer, imported): no module of the first package may import the second (or anything under either).
# The service knows nothing of the console (controller/app.py joins them); screening is pure domain code.
BACK_ARROWS = [
    ("controller.service", "controller.console"),
    ("controller.screening", "controller.service"),
    ("controller.screening", "controller.store"),
    ("controller.store", "controller.screening"),
    # The tools stand above the service, the reports above identity (each registers what it adds below).
    ("controller.service", "controller.watch"),
    ("controller.service", "controller.calibrate"),
    ("controller.reporting", "controller.service"),
    ("controller.identity", "controller.reporting"),
    ("controller.identity", "controller.reports"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(CONTROLLER.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, is_package: bool) -> set[str]:
    """The absolute names of everything ``module``'s source imports (``from a import b`` gives a and a.b)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names if alias.name != "*")
    return found


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def controller_imports() -> dict[str, set[str]]:
    modules = {}
    for path in sorted(CONTROLLER.rglob("*.py")):
        name = module_name(path)
        modules[name] = imports(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    return modules


def test_the_reader_resolves_imports_as_python_does():
    """The checks below can only fail if the reader sees imports: it must resolve every form of them."""
    source = ("import sim.runner\nfrom sim import gate\nfrom ..console import routes\nfrom . import events\n"
              "from ...sim import x\ndef f():\n    from ..store.store import Store\n")
    found = imports(source, "controller.service.http", is_package=False)
    assert {"sim.runner", "sim", "sim.gate", "controller.console", "controller.console.routes",
            "controller.service.events", "controller.store.store", "controller.store.store.Store"} <= found
    assert imports("from .link import Broker\n", "controller.mqtt", is_package=True) == {
        "controller.mqtt.link", "controller.mqtt.link.Broker"}
    modules = controller_imports()
    assert len(modules) > 50 and "controller.service.registry" in modules
    assert any(under(n, "controller.site") for n in modules["controller.service.registry"])


def test_nothing_under_controller_imports_the_simulator():
    offenders = sorted(f"{module} imports {name}" for module, names in controller_imports().items()
                       for name in names if under(name, "sim"))
    assert not offenders, "the controller must not stand on the simulator:\n" + "\n".join(offenders)


@pytest.mark.parametrize(("importer", "imported"), BACK_ARROWS, ids=[f"{a}->{b}" for a, b in BACK_ARROWS])
def test_no_back_arrow(importer, imported):
    offenders = sorted(f"{module} imports {name}" for module, names in controller_imports().items()
                       if under(module, importer) for name in names if under(name, imported))
    assert not offenders, f"{importer} must not import {imported}:\n" + "\n".join(offenders)


# The modules that put the layers together: each may import any part, and a part may use what they share (the
# command line's options, the config loading for a command), so a cycle through one of them is no layering fault.
COMPOSITION = {"cli", "app", "cli_common"}


def unit(name: str) -> str:
    """The top-level package or module of controller/ that ``name`` is in (``__init__`` for the package itself)."""
    parts = name.split(".")
    if len(parts) > 1 and ((CONTROLLER / parts[1]).is_dir() or (CONTROLLER / f"{parts[1]}.py").exists()):
        return parts[1]
    return "__init__"


def package_graph() -> dict[str, set[str]]:
    """importer -> the other top-level units of controller/ it imports (from anywhere, functions included)."""
    graph: dict[str, set[str]] = {}
    for module, names in controller_imports().items():
        arrows = graph.setdefault(unit(module), set())
        arrows.update(unit(n) for n in names if under(n, "controller"))
        arrows.discard(unit(module))
    return graph


def a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, ..., a], or None when it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return None
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        done.add(node)
        return None

    return next((c for c in (visit(n) for n in sorted(graph)) if c), None)


def test_the_cycle_finder_finds_cycles():
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    graph = package_graph()
    assert {"service", "watch", "reporting", "identity", "cli_common"} <= set(graph)
    assert "service" in graph["watch"] and "reporting" in graph["service"]  # arrows inside functions count
    assert COMPOSITION <= set(graph)


def test_the_packages_import_each_other_in_layers():
    """No two parts of controller/ import each other, however indirectly, except through a composition module."""
    graph = {name: arrows - COMPOSITION for name, arrows in package_graph().items() if name not in COMPOSITION}
    cycle = a_cycle(graph)
    assert cycle is None, "these parts of controller/ import each other: " + " -> ".join(cycle or [])
