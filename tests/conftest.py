from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "copbot.db"


@pytest.fixture
async def bot(db_path: Path) -> AsyncIterator[Harness]:
    harness = Harness.open(db_path)
    yield harness
    harness.close()
