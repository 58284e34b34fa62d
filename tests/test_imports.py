"""The package's imports run one way: no cycle, nothing below the CLI imports it, and the
analysis side stays free of matplotlib."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rnngrad

ROOT = Path(rnngrad.__file__).parent
CLI_SIDE = {"rnngrad.cli", "rnngrad.bench", "rnngrad.__main__"}  # the commands


def module_name(path: Path) -> str:
    parts = ("rnngrad", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source (functions included).

    Imports of the bare root package (``import rnngrad`` for ``__version__``) are left out: every
    module is inside the package, so Python runs the root first whatever a module says, and the
    root's own imports (``rnngrad.load``) are the notebook API above everything.
    """
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != "rnngrad"}
        graph[name] = deps - {name}
    return graph


def test_imports_have_no_cycle():
    graph = import_graph()
    done: set[str] = set()

    def visit(m: str, path: list[str]) -> None:
        if m in path:
            cycle = [*path[path.index(m) :], m]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if m in done:
            return
        for d in sorted(graph[m]):
            visit(d, [*path, m])
        done.add(m)

    for m in sorted(graph):
        visit(m, [])


def test_nothing_below_the_cli_imports_bench_or_cli():
    graph = import_graph()
    for m, deps in graph.items():
        if m not in CLI_SIDE:
            assert not deps & {"rnngrad.bench", "rnngrad.cli"}, f"{m} imports {deps & CLI_SIDE}"


def test_analysis_and_claims_import_no_plotting_and_figures_choose_no_backend():
    code = (
        "import sys\n"
        "import rnngrad.analysis, rnngrad.claims\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'seaborn'))\n"
        "assert not bad, bad\n"
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import rnngrad.figures, rnngrad.report\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
