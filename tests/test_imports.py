"""The package's architecture: imports run one way, down the stages (core, the backends, run,
study, report, the commands), with no cycle; the backends are reached through the registry
alone; nothing inside the package imports its root; analysis stays free of matplotlib."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rnngrad

ROOT = Path(rnngrad.__file__).parent
# each module's stage; a module imports its own stage or those below, never above. The two
# backends are peers on one stage and never import each other (tests/test_models.py).
STAGES = {
    "rnngrad._version": 0,
    "rnngrad.core": 1,
    "rnngrad.numpy_backend": 2,
    "rnngrad.torch_backend": 2,
    "rnngrad.backends": 3,
    "rnngrad.plugins": 4,
    "rnngrad.run": 5,
    "rnngrad.study": 6,
    "rnngrad.report": 7,
    "rnngrad.bench": 8,
    "rnngrad.cli": 9,
    "rnngrad.__main__": 10,
    "rnngrad": 11,  # the root: the notebook API, above everything
}
SUBPACKAGES = ("core", "plugins", "run", "study", "report", "bench")
MAX_TOP_LEVEL = 6  # .py files at the top of src/rnngrad, __init__ and __main__ included
MAX_LINES = 450  # a module past this holds more than one concept: split it
REGISTRY = "rnngrad.backends"


def module_name(path: Path) -> str:
    parts = ("rnngrad", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in STAGES:
            return STAGES[".".join(parts[:n])]
    raise AssertionError(f"{module}: no stage (add its subpackage to STAGES)")


def imports() -> dict[str, list[tuple[str, list[str]]]]:
    """Module -> (imported module, names imported from it) for every import in its source,
    functions included."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for name, path in modules.items():
        found[name] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found[name] += [(a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found[name].append((node.module, [a.name for a in node.names]))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source (functions included)."""
    found = imports()
    graph: dict[str, set[str]] = {}
    for name, edges in found.items():
        deps: set[str] = set()
        for module, names in edges:
            targets = [module, *(f"{module}.{n}" for n in names)]
            deps |= {t for t in targets if t in found}
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


def test_imports_run_down_the_stages():
    for m, deps in import_graph().items():
        for d in deps - {"rnngrad"}:
            assert stage(d) <= stage(m), f"{m} (stage {stage(m)}) imports {d} (stage {stage(d)})"


def test_nothing_inside_the_package_imports_its_root():
    """``import rnngrad`` or a name defined in the root (``__version__``, ``load``) from inside
    the package would run the root's imports from below; subpackages are imported by name."""
    found = imports()
    for m, edges in found.items():
        if m == "rnngrad":
            continue
        for module, names in edges:
            if module != "rnngrad":
                continue
            assert names, f"{m}: import rnngrad"
            own = [n for n in names if f"rnngrad.{n}" not in found]
            assert not own, f"{m} imports {own} from the package root"


def test_the_backends_are_reached_through_the_registry_alone():
    for m, edges in imports().items():
        if m == REGISTRY or stage(m) == STAGES["rnngrad.numpy_backend"]:
            continue
        for module, names in edges:
            targets = [module, *(f"{module}.{n}" for n in names)]
            bad = [t for t in targets if t.split(".")[:2][-1] in ("numpy_backend", "torch_backend")]
            assert not bad, f"{m} imports {bad}: use rnngrad.backends"


def test_the_package_is_split_into_documented_subpackages():
    top = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL, top
    for sub in (*SUBPACKAGES, "numpy_backend", "torch_backend"):
        doc = ast.get_docstring(ast.parse((ROOT / sub / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 20, f"{sub}/__init__.py states no role"


def test_no_module_is_over_the_line_limit():
    long = {
        module_name(p): n
        for p in ROOT.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long


def test_notebook_api():
    code = (
        "import sys\n"
        "import rnngrad\n"
        "assert not {'numpy', 'pandas', 'torch', 'matplotlib'} & set(sys.modules)\n"
        "from rnngrad import analysis, claims\n"
        "assert analysis.__name__ == 'rnngrad.report.analysis', analysis\n"
        "assert rnngrad.claims is claims and callable(rnngrad.load)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_analysis_and_claims_import_no_plotting_and_figures_choose_no_backend():
    code = (
        "import sys\n"
        "import rnngrad.report.analysis, rnngrad.report.claims\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'seaborn'))\n"
        "assert not bad, bad\n"
        "import matplotlib\n"
        "matplotlib.use('svg')\n"
        "import rnngrad.report.figures, rnngrad.report.page\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
