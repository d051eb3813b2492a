"""The package's promises: the simulator without torch, and CI running the README's test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_specsim_and_sim_import_without_torch() -> None:
    # A fresh interpreter: importing everything the simulator and the sweep use must not pull torch.
    code = (
        "import sys\n"
        "import specsim, specsim.cli, sim, sim.cluster, sim.sweep, specsim.report.sweep\n"
        "from specsim.cli import main\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip() and not line.startswith("#") and not line.startswith(("set ", "cd "))]
    assert len(ci_lines) == 1
    assert ci_lines[0] in readme, "the README must show the command CI runs"


def test_a_torch_command_without_torch_is_one_line() -> None:
    # Hide torch from a fresh interpreter: the command must say what to install, not crash.
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from click.testing import CliRunner\n"
        "from specsim.cli import main\n"
        "args = ['realrun', 'scenarios/validate-cpu.yaml', '--target', 't', '--draft', 'd']\n"
        "result = CliRunner().invoke(main, args)\n"
        "print(result.exit_code)\n"
        "print(result.output)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    exit_code, message = result.stdout.split("\n", 1)
    assert exit_code == "2"
    assert message.strip().startswith("error: this command needs torch") and "\n" not in message.strip()
