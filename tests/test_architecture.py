"""The architecture's lines hold: import-linter's contracts (pyproject.toml) over the code.

README "Architecture" draws them: transports (api, and bench above everything) call the
application, which calls the pure cores (rules, balancer) and the domain; nothing imports
upward, rules and balancer touch no database, web or broker, and nothing below the API speaks
HTTP or GraphQL. The second test shows the check bites: the same contracts over a copy of the
code with one forbidden import added.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "api", "interfaces", "application", "rules", "balancer", "domain")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": str(command.parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("rules/_crossing.py", "import sqlalchemy\n", "rules and balancer are pure"),
        ("domain/_crossing.py", "import application.commands\n", "never upward"),
        ("balancer/_crossing.py", "import rules.model\n", "never upward"),
        ("application/_crossing.py", "import strawberry\n", "only transports speak"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(line)
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "1 broken" in result.stdout
    assert f"{broken}" in result.stdout.replace("\n", " ")
