import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
