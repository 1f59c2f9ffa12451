"""Shared fixtures of the model_convert test suite (run by `cargo xtask python-test`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
MLP = ROOT / "examples" / "mlp.onnx"


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def mlp() -> Path:
    return MLP


@pytest.fixture
def script() -> str:
    """The console script installed beside this interpreter."""
    path = Path(sys.executable).parent / "model-convert"
    assert path.exists(), f"console script missing at {path}"
    return os.fspath(path)
