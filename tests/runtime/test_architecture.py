"""The runtime's layers (docs/ARCHITECTURE.md): a module imports only from its own layer or the
layers below it. Imports are read from the source (``import`` statements anywhere in a module,
lazy ones included; ``if TYPE_CHECKING:`` blocks excepted), so a new edge fails here first."""
from __future__ import annotations

import ast
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
    ("captioning", "meme", "suggestions", "personalize", "timeline", "batch", "explain"),  # features
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


def edgekit_imports(path: Path) -> Iterator[Tuple[str, int]]:
    """(imported edgekit module, line) for every import in ``path``."""
    _, package = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names if a.name.startswith("edgekit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            else:
                targets = [node.module or ""]
            yield from ((t, node.lineno) for t in targets if t.startswith("edgekit"))


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
