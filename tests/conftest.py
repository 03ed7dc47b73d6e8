from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.faults import Faults
from tests.support.harness import Harness
from tests.support.server import LOGS


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "copbot.db"


@pytest.fixture
def faults() -> Faults:
    """Storage that fails on cue: pass it as a Database's gate."""
    return Faults()


@pytest.fixture
async def bot(db_path: Path) -> AsyncIterator[Harness]:
    harness = Harness.open(db_path)
    yield harness
    harness.close()


@pytest.fixture(scope="session", autouse=True)
def serve_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for the whole session where every `copbot serve` keeps its output
    (tests/support/server.py), read by tests/test_serve_logs.py."""
    folder = tmp_path_factory.mktemp("serve-logs")
    before = os.environ.get(LOGS)
    os.environ[LOGS] = str(folder)
    yield folder
    if before is None:
        os.environ.pop(LOGS, None)
    else:
        os.environ[LOGS] = before


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that read what the session's `copbot serve` runs logged go last."""
    items.sort(key=lambda item: item.get_closest_marker("reads_serve_logs") is not None)
