"""Fixtures of the report tests (inputs with known numbers live in report_inputs.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_inputs import PAPER


@pytest.fixture
def paper_dir() -> Path:
    if not (PAPER / "table4_published.csv").is_file():
        pytest.fail(f"published tables not found at {PAPER}")
    return PAPER
