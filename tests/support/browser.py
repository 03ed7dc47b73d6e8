"""Debian's Chromium, headless, for the playground's browser tests (driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# axe-core, vendored (MPL-2.0; see its LICENSE beside it) so that CI runs it offline.
AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe-core" / "axe.min.js"

if CHROMIUM is None and os.environ.get("COPBOT_REQUIRE_BROWSER"):
    raise RuntimeError("COPBOT_REQUIRE_BROWSER is set but no chromium is installed")


def launch(pw: Any) -> Any:
    """A headless Chromium; skips the test where none is installed (never in CI)."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
