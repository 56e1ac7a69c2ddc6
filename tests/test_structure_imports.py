"""Imports flow one way: errors/skeleton -> body -> io -> representation -> models/diffusion ->
training -> inference -> baselines -> evaluation -> demo -> video -> cli.

Every import in rohm (module-level and inside functions, read with `ast`, never executed) is an
edge of a graph of rohm's modules. The graph has no cycles, no import goes to a higher layer, and
the command line's parser and `rohm evaluate` load no model code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rohm"

# Layer of each top-level package or module of rohm: an import may go to the same layer or below.
# A light module holding the names of a heavy one (so that the parser can list them) sits in the
# heavy one's layer.
LAYERS: dict[str, int] = {
    "rohm.errors": 0, "rohm.config": 0, "rohm.skeleton": 0,
    "rohm.body": 1,
    "rohm.io": 2, "rohm.checkpoint": 2,
    "rohm.representation": 3, "rohm.visualisation": 3,  # visualisation draws Motions: io and body only
    "rohm.data": 4, "rohm.models": 4, "rohm.diffusion": 4, "rohm.corruption": 4, "rohm.occlusions": 4,
    "rohm.virtual_camera": 4,
    "rohm.training": 5,
    "rohm.inference": 6,
    "rohm.baselines": 7,
    "rohm.evaluation": 8,
    "rohm.demo": 9, "rohm.builtin_clips": 9,
    "rohm.video": 10, "rohm.cli_flags": 10,
    "rohm.cli": 11, "rohm": 11,  # the package itself re-exports Reconstructor lazily
}
MODEL_CODE = ("rohm.models", "rohm.diffusion", "rohm.inference", "rohm.training")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported_names(tree: ast.AST, package: str) -> set[str]:
    """Dotted names every import statement of `tree` asks for (`from a import b` gives a and a.b);
    relative imports resolved against `package`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imports_of(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The rohm modules that module `name` imports: each imported name's longest prefix that is a
    module, plus the packages above it that Python runs first (not the root `rohm`, nor the
    importer's own packages)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for imported in _imported_names(ast.parse(source), package):
        while imported and imported not in modules:
            imported = imported.rpartition(".")[0]
        parts = imported.split(".")
        for depth in range(2, len(parts) + 1):
            target = ".".join(parts[:depth])
            if target in modules and target != name and not (name + ".").startswith(target + "."):
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """rohm module -> the rohm modules it imports."""
    modules = _modules()
    return {name: imports_of(path.read_text(), name, path.name == "__init__.py", set(modules))
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def _tangles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of `graph` with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set(stack[stack.index(node):])
            del stack[stack.index(node):]
            if len(component) > 1:
                found.append(component)

    for start in sorted(graph):
        if start not in index:
            visit(start)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per tangle of `graph` (modules that all reach each other), sorted."""
    return sorted(find_cycle({node: graph[node] & tangle for node in tangle}) or [] for tangle in _tangles(graph))


def top_level(module: str) -> str:
    """rohm.a.b -> rohm.a; rohm -> rohm."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph with each module merged into its top-level package."""
    merged: dict[str, set[str]] = {}
    for source, targets in graph.items():
        merged.setdefault(top_level(source), set()).update(top_level(t) for t in targets if top_level(t) != top_level(source))
    return merged


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'importer -> imported (layer a -> b)' for every import into a higher layer."""
    return [f"{source} -> {target} (layer {LAYERS[top_level(source)]} -> {LAYERS[top_level(target)]})"
            for source, targets in sorted(graph.items()) for target in sorted(targets)
            if LAYERS[top_level(target)] > LAYERS[top_level(source)]]


def test_the_reader_sees_function_level_relative_and_submodule_imports() -> None:
    modules = {"rohm", "rohm.a", "rohm.a.x", "rohm.a.y", "rohm.b", "rohm.b.z", "rohm.c"}
    source = "import numpy\nfrom . import y\nfrom rohm.b.z import thing\n\ndef f():\n    import rohm.c\n"
    assert imports_of(source, "rohm.a.x", False, modules) == {"rohm.a.y", "rohm.b", "rohm.b.z", "rohm.c"}


def test_the_cycle_finder_finds_every_cycle_and_only_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert upward_imports({"rohm.io.x": {"rohm.cli"}}) == ["rohm.io.x -> rohm.cli (layer 2 -> 11)"]


def test_no_import_cycle_between_modules() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_no_import_cycle_between_packages() -> None:
    found = cycles(package_graph(import_graph()))
    assert not found, "packages importing each other:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_every_package_has_a_layer() -> None:
    unranked = sorted({top_level(name) for name in _modules()} - set(LAYERS))
    assert not unranked, f"give these a layer in LAYERS: {unranked}"


def test_no_import_goes_up_a_layer() -> None:
    offenders = upward_imports(import_graph())
    assert not offenders, "imports into a higher layer:\n" + "\n".join(offenders)


def _loaded_after(code: str) -> tuple[list[str], list[str]]:
    """Run `code` in a fresh interpreter; the model-code modules and torch it left loaded."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps([sorted(m for m in sys.modules if m.startswith({MODEL_CODE!r})), "
             "sorted(m for m in sys.modules if m == 'torch')]))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    model_code, torch = json.loads(proc.stdout.splitlines()[-1])
    return model_code, torch


def test_the_parser_and_help_load_no_model_code_nor_torch() -> None:
    for args in (["--help"], ["evaluate", "--help"]):
        model_code, torch = _loaded_after(
            f"import contextlib, io, rohm.cli\nwith contextlib.redirect_stdout(io.StringIO()), "
            f"contextlib.suppress(SystemExit):\n    rohm.cli.main({args!r})")
        assert model_code == [] and torch == [], (args, model_code, torch)


def test_evaluate_loads_no_model_code(tmp_path: Path) -> None:
    from rohm.io.motion_file import Motion, save_motion

    rng = np.random.default_rng(0)
    gt = np.cumsum(rng.normal(0.0, 0.01, (30, 22, 3)), axis=0) + np.array([0.0, 1.0, 0.0])
    save_motion(Motion(joints=gt, fps=30.0), tmp_path / "gt.npz")
    save_motion(Motion(joints=gt + rng.normal(0.0, 0.02, gt.shape), fps=30.0), tmp_path / "pred.npz")
    model_code, _ = _loaded_after(
        f"import rohm.cli\nassert rohm.cli.main(['evaluate', {str(tmp_path / 'pred.npz')!r}, '--gt', "
        f"{str(tmp_path / 'gt.npz')!r}]) == 0")
    assert model_code == []
