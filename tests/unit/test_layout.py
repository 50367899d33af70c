"""The package layout (LAYOUT.md, issue 12): every module imports on its own, and imports run one
way, down the layers: ``api/`` → ``batch/`` → ``gateway`` → ``executor`` → ``db/``, with
``formats/`` beside ``db/`` and the settings, error values, names, logs and metrics at the
bottom. Read from the source with ``ast``, so a lazy import inside a function counts too."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "tablegate"

#: Each module's layer; a module may import only from layers below its own (and, inside a
#: folder, from its siblings, which share a layer). The bottom modules are ordered among
#: themselves too: the names rulebook raises error values, the settings check names by it, the
#: metrics label requests as the logs do.
LAYERS = {
    "tablegate.errors": 0, "tablegate.logs": 0,
    "tablegate.names": 1, "tablegate.metrics": 1, "tablegate.config": 2, "tablegate.cors": 3,
    "tablegate.db": 4, "tablegate.formats": 4,
    "tablegate.executor": 5,
    "tablegate.gateway": 6,
    "tablegate.batch": 7, "tablegate.console": 7,
    "tablegate.api": 8,
    "tablegate": 9, "tablegate.__main__": 9,
}

#: Pairs in one layer that must not know each other (``formats`` beside ``db``, no arrow), and
#: what the folders below the API must not import at all.
APART = [("tablegate.db", "tablegate.formats"), ("tablegate.formats", "tablegate.db"),
         ("tablegate.console", "tablegate.batch"), ("tablegate.batch", "tablegate.console")]
FORBIDDEN = {"tablegate.db": {"flask", "werkzeug", "tablegate.executor"},
             "tablegate.formats": {"flask", "werkzeug"},
             "tablegate.batch": {"flask", "werkzeug"},
             "tablegate.console": {"flask", "werkzeug", "tablegate.batch"},
             "tablegate.executor": {"flask", "werkzeug", "tablegate.metrics"},
             "tablegate.errors": {"flask", "werkzeug"},
             "tablegate.config": {"flask", "werkzeug"}}


def modules() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def layer_of(module: str) -> tuple[str, int]:
    """The longest prefix of ``module`` that ``LAYERS`` names, and its layer."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return prefix, LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def imports(module: str) -> set[str]:
    path = PACKAGE.parent.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # ``from tablegate.batch import ledger`` imports the module tablegate.batch.ledger
            found.update(f"{node.module}.{alias.name}" for alias in node.names
                         if f"{node.module}.{alias.name}" in MODULES)
    return found


MODULES = modules()


def test_every_module_is_in_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", MODULES)
def test_imports_run_down_the_layers(module):
    home, layer = layer_of(module)
    for imported in imports(module):
        if not imported.startswith("tablegate") or imported in (module, "tablegate"):
            continue
        other, other_layer = layer_of(imported)
        assert other == home or other_layer < layer or module == "tablegate", (
            f"{module} (layer {layer}) imports {imported} (layer {other_layer})")
        assert (home, other) not in APART, f"{module} imports {imported}"


@pytest.mark.parametrize("module", MODULES)
def test_lower_layers_know_no_flask(module):
    home, _ = layer_of(module)
    for imported in imports(module):
        for banned in FORBIDDEN.get(home, ()):
            assert not (imported == banned or imported.startswith(banned + ".")), (
                f"{module} imports {imported}")


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_on_its_own(module):
    """A fresh interpreter per module: an import circle shows as an ImportError here even when
    the order the rest of the suite imports things in hides it. ``-W error``: importing
    ``tablegate.__main__`` as a module must not warn either."""
    result = subprocess.run([sys.executable, "-W", "error", "-c", f"import {module}"],
                            capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
