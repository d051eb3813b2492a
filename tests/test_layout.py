"""The import directions of DESIGN.md's layout, read from the source (every import, lazy ones in
functions too): the simulator never sees the real engine or calibration; the real engine never
sees the simulator or calibration; calibration may import the engine (it times the engine's own
backend calls — calibrate/latency.py says why), never the simulator. The commands are where the
parts meet: `specsim/cli` and `specsim/validate` call into all of them, lazily (that importing
`specsim` pulls no torch is tests/test_packaging.py's check)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "specsim": {"sim", "realrun", "calibrate", "torch", "transformers"},
    "sim": {"realrun", "calibrate", "torch", "transformers"},
    "realrun": {"sim", "calibrate"},
    "calibrate": {"sim"},
}
MEETING_POINTS = (ROOT / "specsim" / "cli", ROOT / "specsim" / "validate")


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_layout(package: str) -> None:
    offending = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if not any(path.is_relative_to(folder) for folder in MEETING_POINTS)
        for name in imported_packages(path) & FORBIDDEN[package]
    }
    assert not offending, sorted(offending)


def test_the_check_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text("def load():\n    from calibrate.models import load_model\n    import torch.nn\n")
    assert imported_packages(source) == {"calibrate", "torch"}
