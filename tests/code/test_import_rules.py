"""Floors run one way: data -> features -> training -> models -> serving, with the command line on top.

Every ``import`` in the source tree (function-level ones too) is read from the syntax tree and checked
against what its floor may import. ``models/`` is the format both training (writes) and serving (reads)
share, so it imports neither. The simulator is the sample data's floor: nothing but the CLI and the tests
may import it. The family registry names the pieces of higher floors as strings, never imports them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from muzhang.paths import PROJECT_ROOT

BASE = "muzhang"  # settings, paths, domain, catalog, calendar, the family registry
SIMULATOR = "muzhang.simulate"
FIRST_PARTY = ("muzhang", "features", "training", "models", "serving", "cli")
# floor -> first-party packages (or the simulator) it may import
ALLOWED: dict[str, set[str]] = {
    BASE: {BASE},
    SIMULATOR: {BASE, SIMULATOR},
    "features": {BASE, "features"},
    "models": {BASE, "models"},
    "training": {BASE, "features", "models", "training"},
    "serving": {BASE, "features", "models", "serving"},
    "cli": {BASE, SIMULATOR, "features", "models", "training", "serving", "cli"},
}


def floor_of_module(module: str) -> str | None:
    """The floor a dotted module name belongs to (None: not first party)."""
    if module == SIMULATOR or module.startswith(SIMULATOR + "."):
        return SIMULATOR
    top = module.split(".")[0]
    return top if top in FIRST_PARTY else None


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import statement in a file, wherever it sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # "from muzhang import simulate" imports the simulator too
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(root: Path) -> list[str]:
    problems = []
    for package in FIRST_PARTY:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            floor = floor_of_module(module)
            assert floor is not None
            for line, imported in imported_modules(path):
                target = floor_of_module(imported)
                if target is not None and target not in ALLOWED[floor]:
                    problems.append(f"{path.relative_to(root)}:{line} ({floor}) imports {imported} ({target})")
    return problems


def test_no_module_imports_a_higher_floor() -> None:
    assert violations(PROJECT_ROOT) == []


@pytest.mark.parametrize(
    ("folder", "source", "expected"),
    [
        ("features", "from muzhang.simulate.county import generate_county\n", "imports muzhang.simulate.county"),
        ("muzhang", "def f():\n    from serving.app import create_app\n", "imports serving.app.create_app"),
        ("serving", "import training.tracking\n", "imports training.tracking"),
        ("models", "from training.engine import TrainResult\n", "imports training.engine"),
        ("training", "from muzhang import simulate\n", "imports muzhang.simulate"),
    ],
)
def test_the_rule_catches_an_upward_import(tmp_path: Path, folder: str, source: str, expected: str) -> None:
    """The checker itself: a tree with one upward import (even inside a function) is reported."""
    for package in FIRST_PARTY:
        (tmp_path / package).mkdir()
    (tmp_path / folder / "bad.py").write_text(source, encoding="utf-8")
    (found,) = violations(tmp_path)
    assert expected in found and found.startswith(f"{folder}/bad.py")


def test_imports_within_a_floor_and_downward_pass(tmp_path: Path) -> None:
    for package in FIRST_PARTY:
        (tmp_path / package).mkdir()
    (tmp_path / "serving" / "ok.py").write_text(
        "import numpy\nfrom features import build_features\nfrom models.bundle import ModelBundle\n"
        "from muzhang.families import get_family\nfrom . import sibling\n",
        encoding="utf-8",
    )
    assert violations(tmp_path) == []
