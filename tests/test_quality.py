"""House rules, checked: lint, types, and the layers of DESIGN.md."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SDK = re.compile(
    r"^\s*(from|import)\s+(slack_bolt|slack_sdk|botbuilder|botframework|adapters)\b", re.M
)


def _tool(name: str) -> list[str]:
    path = Path(sys.executable).parent / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; pip install -e '.[test]'")
    return [found]


def test_ruff_lint_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = subprocess.run(
        [*_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_bot_storage_and_adapters() -> None:
    result = subprocess.run(_tool("mypy"), cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    checked = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert set(checked) >= {"bot", "storage", "adapters"}


def test_the_core_never_imports_a_platform_sdk_or_an_adapter() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {m.group(0).strip()}"
        for folder in ("bot", "storage", "prompts")
        for path in (ROOT / folder).rglob("*.py")
        if path != ROOT / "bot" / "app.py"
        for m in SDK.finditer(path.read_text())
    ]
    assert offenders == []


def test_adapters_only_use_the_core_through_its_public_contract() -> None:
    allowed = {
        "bot.model",
        "bot.records",
        "bot.ports",
        "bot.archive_ports",
        "bot.codec",
        "bot.markup",
        "bot.timefmt",
        "bot.logs",  # logging an error by its kind and place, never its message
        "bot.errors",  # the words for faults, said alike on every platform
    }
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / "adapters").rglob("*.py")
        for module in re.findall(r"^\s*from\s+(bot(?:\.\w+)*)\s+import", path.read_text(), re.M)
        if module not in allowed
    ]
    assert offenders == []
