"""The allowed import edges (docs/ARCHITECTURE.md). The runtime's layers: a module imports only from
its own layer or the layers below it. The toolchain: ``converters/core`` serves the three model
pipelines (emotion, identity, caption), which never import each other; nothing in ``converters``
imports ``benchmarks``, and the benchmarks take only the standard-library provenance helpers from
``converters.core``. Imports are read from the source (``import`` statements anywhere in a module,
lazy ones included; ``if TYPE_CHECKING:`` blocks excepted), so a new edge fails here first."""
from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "edgekit"

#: Top-level modules of ``edgekit`` by layer, lowest first.
LAYERS: Tuple[Tuple[str, ...], ...] = (
    ("errors", "labels", "paths", "exclusive", "_version", "assets", "textunits", "validate", "options",
     "task_options"),  # core: no edgekit imports but these
    ("litert", "registry", "imageio", "glyphs", "results", "userdata", "faces", "tracking", "video", "annotate",
     "_au_calibration"),  # files, models, images, results
    ("detection", "alignment", "emotion", "facemesh", "identity", "aus", "transfer"),  # perception
    ("pipeline",),  # the frame pipeline
    ("captioning", "meme", "suggestions", "personalize", "timeline", "batch", "explaining"),  # features
    ("cli", "server", "__init__", "__main__"),  # front ends
)
LAYER_OF: Dict[str, int] = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path) -> Tuple[str, str]:
    """(dotted module name, the package relative imports start from)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        name = ".".join(parts[:-1])
        return name, name
    name = ".".join(parts)
    return name, name.rsplit(".", 1)[0]


def _type_checking_nodes(tree: ast.AST) -> Set[int]:
    skipped: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def imports(path: Path) -> Iterator[Tuple[str, int]]:
    """(imported module, line) for every import in ``path``, relative ones resolved; ``from a import b``
    gives ``a`` (``from . import b`` gives the package's ``b``)."""
    _, package = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
            yield from ((t, node.lineno) for t in targets)


def edgekit_imports(path: Path) -> Iterator[Tuple[str, int]]:
    """(imported edgekit module, line) for every import in ``path``."""
    return ((t, line) for t, line in imports(path) if t.split(".")[0] == "edgekit")


def test_every_runtime_module_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert tops - set(LAYER_OF) == set(), "add new top-level modules to LAYERS (and docs/ARCHITECTURE.md)"


def test_no_module_imports_a_higher_layer():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name, _ = _module_name(path)
        src = _top(name) if name != "edgekit" else "__init__"
        for target, line in edgekit_imports(path):
            dst = _top(target)
            if dst in LAYER_OF and LAYER_OF[dst] > LAYER_OF[src]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {src} (layer {LAYER_OF[src]}) "
                             f"imports {dst} (layer {LAYER_OF[dst]})")
    assert wrong == []


@pytest.mark.parametrize("source, expected", [
    ("from ..pipeline import Pipeline\n", [("edgekit.pipeline", 1)]),
    ("from . import glyphs\n", [("edgekit.meme.glyphs", 1)]),
    ("import edgekit.cli\n", [("edgekit.cli", 1)]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..cli import main\n", []),
    ("def f():\n    from ..server import app\n", [("edgekit.server", 2)]),
])
def test_the_import_reader_sees_relative_lazy_and_type_only_imports(tmp_path, monkeypatch, source, expected):
    fake = PACKAGE / "meme" / "_architecture_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source if self == fake else Path.read_text(self))
    assert list(edgekit_imports(fake)) == expected


# The toolchain (converters/) and the benchmarks.
TOOLCHAIN = ROOT / "converters"
PIPELINES = ("emotion", "identity", "caption")
#: converters/ besides the core and the pipelines: the action-unit toolchain, the checks, the build step.
OTHERS = ("aus", "checks", "thirdparty")
#: Imported by the benchmarks (runtime venv, no TensorFlow) and the bare build step: the standard library only.
STDLIB_ONLY = ("converters/__init__.py", "converters/core/__init__.py", "converters/core/paths.py",
               "converters/core/provenance.py")
#: What benchmarks/ may import from converters/.
BENCHMARKS_MAY_IMPORT = ("converters.core.paths", "converters.core.provenance")


def _part(module: str) -> str:
    """converters.<part>.… -> part ("" for the package itself); anything else -> its top-level name."""
    parts = module.split(".")
    return (parts[1] if len(parts) > 1 else "") if parts[0] == "converters" else parts[0]


def _toolchain_edges(folder: Path) -> Iterator[Tuple[str, str, str, int]]:
    """(file, its part of converters, imported module, line) for every import of a converters or
    benchmarks module under ``folder``."""
    for path in sorted(folder.rglob("*.py")):
        name, _ = _module_name(path)
        for target, line in imports(path):
            if target.split(".")[0] in ("converters", "benchmarks"):
                yield str(path.relative_to(ROOT)), _part(name), target, line


def test_every_toolchain_folder_is_core_a_pipeline_or_listed():
    parts = {p.stem for p in TOOLCHAIN.iterdir()
             if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())} - {"__init__"}
    assert parts - {"core", *PIPELINES, *OTHERS} == set(), \
        "a new converters/ folder or module: add it here and to docs/ARCHITECTURE.md"


def test_the_core_imports_no_pipeline_and_the_pipelines_not_each_other():
    wrong = []
    for path, src, target, line in _toolchain_edges(TOOLCHAIN):
        dst = _part(target)
        if target.split(".")[0] == "benchmarks":
            wrong.append(f"{path}:{line}: converters imports {target} (benchmarks sit above the toolchain)")
        elif src == "core" and dst != "core":
            wrong.append(f"{path}:{line}: converters.core imports {target} (the core serves the pipelines)")
        elif src in PIPELINES and dst in PIPELINES + OTHERS and dst != src:
            wrong.append(f"{path}:{line}: converters.{src} imports {target} (share it through converters.core)")
        elif src in ("aus", "checks") and dst in PIPELINES:
            wrong.append(f"{path}:{line}: converters.{src} imports {target} (share it through converters.core)")
    assert wrong == []


def test_benchmarks_take_only_the_stdlib_provenance_from_converters():
    wrong = [f"{path}:{line}: imports {target}" for path, _, target, line in _toolchain_edges(ROOT / "benchmarks")
             if target.split(".")[0] == "converters" and target not in BENCHMARKS_MAY_IMPORT]
    assert wrong == []


@pytest.mark.parametrize("relpath", STDLIB_ONLY)
def test_the_shared_provenance_needs_only_the_standard_library(relpath):
    """No numpy, no TensorFlow, no edgekit: the benchmarks' venv and the bare build step import these."""
    if not hasattr(sys, "stdlib_module_names"):
        pytest.skip("Python 3.10+ lists its standard library (sys.stdlib_module_names)")
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    wrong = [f"{relpath}:{line}: imports {target}" for target, line in imports(ROOT / relpath)
             if target.split(".")[0] not in allowed and target not in ("converters.core.paths",)]
    assert wrong == []


def test_one_root_definition_for_the_toolchain():
    defined = [str(p.relative_to(ROOT)) for p in sorted(TOOLCHAIN.rglob("*.py"))
               for text in p.read_text(encoding="utf-8").splitlines() if text.startswith("ROOT =")]
    assert defined == ["converters/core/paths.py"]


def test_no_public_name_is_shadowed_by_a_submodule():
    """``edgekit.explain`` (a lazy function) was replaced by the submodule ``edgekit/explain.py`` as soon as
    anything imported that submodule (Python sets the package attribute), so ``edgekit.explain(...)`` raised
    "'module' object is not callable" depending on import order. No lazy name may be a submodule's name."""
    import pkgutil

    import edgekit

    submodules = {m.name for m in pkgutil.iter_modules(edgekit.__path__)}
    assert not submodules & set(edgekit._LAZY), submodules & set(edgekit._LAZY)


def test_explain_stays_the_function_after_its_module_is_imported():
    import importlib

    import edgekit

    importlib.import_module("edgekit.explaining")
    assert callable(edgekit.explain) and edgekit.explain.__name__ == "explain"
