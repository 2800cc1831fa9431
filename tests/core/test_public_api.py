"""howold's public surface: `__all__`, light imports, frontends that use only public names, no
import circles, and one sentence when a command's extra is missing."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest

import howold
from howold.extras import EXTRA_MODULES, MissingExtraError, require_extra

PACKAGE = Path(howold.__file__).parent
FRONTENDS = [
    PACKAGE / "cli.py",
    PACKAGE / "cli_video.py",
    *(PACKAGE / "app").glob("*.py"),
    *(PACKAGE / "api").glob("*.py"),
    *(PACKAGE / "batch").glob("*.py"),
]


def test_all_lists_exactly_the_lazy_names_and_each_resolves():
    assert set(howold.__all__) == set(howold._EXPORTS) | {"__version__"}
    assert len(howold.__all__) == len(set(howold.__all__))
    for name, module in howold._EXPORTS.items():  # each public name is its defining module's own object
        assert getattr(howold, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="has no attribute 'pipeline_internals'"):
        howold.pipeline_internals  # noqa: B018


def test_no_public_name_is_also_a_submodule():
    # importing the submodule would bind the package attribute to the module, hiding the public name
    submodules = {p.stem for p in PACKAGE.glob("*.py")}
    submodules |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert not set(howold.__all__) & submodules


def test_public_names_resolve_after_their_modules_were_imported():
    code = (
        "import howold.draw, howold.pipeline, howold.report, howold.io\n"
        "from howold import annotate, predict, results_csv, load_image\n"
        "print(all(callable(f) and f.__module__.startswith('howold.') for f in (annotate, predict, results_csv, "
        "load_image)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "True", run.stderr


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    assert howold.__version__ == version("howold")


def test_import_howold_loads_no_heavy_library():
    code = "import sys, howold; print(sorted(m for m in ('numpy', 'cv2', 'PIL', 'onnxruntime') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr


def _imports(path: Path):
    """(module imported, names imported from it) for every import in the file, at any depth."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", FRONTENDS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_frontends_import_only_public_names(path):
    own = _module_name(path).rsplit(".", 1)[0] if path.parent != PACKAGE else "howold.cli"
    # the command line registers the subcommands of the other frontends (and of training)
    allowed = {"howold", own} | (
        {
            "howold.api.cli",
            "howold.app.launch",
            "howold.batch.cli",
            "howold.train.cli",
            "howold.train.tune.cli",
            "howold.cli_video",
        }
        if path.name == "cli.py"
        else set()
    )
    if path.parent.name == "batch":
        allowed.add("howold.cli")  # the detection flags, shared with predict
    for module, names in _imports(path):
        if module == "howold":
            assert set(names) <= set(howold.__all__), f"{path.name}: {set(names) - set(howold.__all__)}"
        elif module.startswith("howold."):
            assert any(module == a or module.startswith(a + ".") for a in allowed), f"{path.name} imports {module}"


def _package(module: str) -> str:
    return module if (PACKAGE.parent / module.replace(".", "/")).is_dir() else module.rsplit(".", 1)[0]


@pytest.mark.parametrize(
    "root", [PACKAGE, PACKAGE.parent / "benchmarks", PACKAGE.parent / "scripts"], ids=lambda p: p.name
)
def test_no_private_name_is_imported_across_packages(root):
    """A private module (howold._x) or name (_x) is its package's own; other packages use public ones."""
    crossings = []
    for path in sorted(root.rglob("*.py")):
        here = _package(_module_name(path)) if root == PACKAGE else root.name
        for module, names in _imports(path):
            if not module.startswith("howold"):
                continue
            private = [part for part in module.split(".") if part.startswith("_")] + [
                n for n in names if n.startswith("_") and not n.endswith("__")
            ]
            if private and _package(module) != here:
                crossings.append(f"{path.relative_to(PACKAGE.parent)}: {module} {private}")
    assert crossings == []


def test_no_import_circle_among_howolds_modules():
    graph: dict[str, set[str]] = {}
    modules = {_module_name(path) for path in PACKAGE.rglob("*.py")}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        edges = set()
        for module, names in _imports(path):
            if module == "howold":  # a public name: an edge to the module that defines it
                edges |= {howold._EXPORTS[n] for n in names if n in howold._EXPORTS}
            elif module.startswith("howold."):
                edges.add(module)
            # `from howold.train import faceres` imports the submodule howold.train.faceres too
            edges |= {f"{module}.{n}" for n in names if f"{module}.{n}" in modules}
        if name == "howold":
            edges = set()  # its imports run only for type checkers; names load lazily, by name
        graph[name] = edges
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != 1, "import circle: " + " -> ".join([*trail, node, nxt])
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_require_extra_names_what_to_install(monkeypatch):
    require_extra("app", "app")  # installed here: no error
    monkeypatch.setitem(sys.modules, "streamlit", None)
    with pytest.raises(
        MissingExtraError,
        match=r"^howold app needs the \[app\] extra \(streamlit is not installed\): "
        r"pip install -e '\.\[app\]' in the howold checkout\.$",
    ):
        require_extra("app", "app")
    with pytest.raises(ValueError, match="extra: expected one of"):
        require_extra("app", "gui")


def test_an_imported_module_without_a_spec_counts_as_installed(monkeypatch):
    lazy = types.ModuleType("streamlit")  # lazy modules (optuna_integration's) have __spec__ None
    lazy.__spec__ = None
    monkeypatch.setitem(sys.modules, "streamlit", lazy)
    require_extra("app", "app")


@pytest.mark.parametrize(
    ("argv", "extra", "hidden"),
    [
        (["train"], "train", "torch"),
        (["export", "x.ckpt", "--out", "x.onnx"], "train", "lightning"),
        (["tune", "--space", "s.yaml", "--trials", "1"], "train", "optuna"),
        (["app"], "app", "streamlit"),
        (["serve"], "api", "fastapi"),
        (["batch", "x.jpg", "--out", "o.parquet"], "batch", "ray"),
    ],
)
def test_each_command_without_its_extra_says_one_sentence(argv, extra, hidden):
    assert any(hidden in modules for modules in EXTRA_MODULES.values())
    code = f"import sys; sys.modules[{hidden!r}] = None; from howold.cli import main; sys.exit(main({argv!r}))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr == (
        f"howold: howold {argv[0]} needs the [{extra}] extra ({hidden} is not installed): "
        f"pip install -e '.[{extra}]' in the howold checkout.\n"
    )
