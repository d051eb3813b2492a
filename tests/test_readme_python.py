"""The README's "From Python" snippet runs as written (in a scratch folder holding the scenarios)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_snippet_runs_verbatim(tmp_path: Path, monkeypatch) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## From Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    shutil.copytree(ROOT / "scenarios", tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md (From Python)", "exec"), namespace)
    assert namespace["again"].summary == namespace["result"].summary
    assert len(namespace["points"]) == 4 and (tmp_path / "sweeps" / "steady-small" / "points.jsonl").exists()
