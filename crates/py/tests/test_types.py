"""The package's types: stubs and inline annotations checked with mypy --strict on a usage file."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import numpy

import model_convert as mc


def test_mypy_strict_accepts_typical_use() -> None:
    usage = Path(__file__).with_name("typed_usage.py")
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent", str(usage)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict_rejects_misuse(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import model_convert as mc\nx: int = mc.inspect('a.onnx')\nmc.convert('a', 'b', tolerance='x')\n")
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and r.stdout.count("error:") == 2, r.stdout


def test_public_functions_are_annotated() -> None:
    for fn in (mc.convert, mc.inspect, mc.verify, mc.run, mc.formats):
        # numpy is imported by the annotations only, for type checkers.
        hints = typing.get_type_hints(fn, localns={"numpy": numpy})
        assert "return" in hints, fn.__name__
    assert typing.get_type_hints(mc.convert)["return"] is mc.Report
    assert typing.get_type_hints(mc.inspect)["return"] is mc.ModelInfo


def test_package_is_marked_typed() -> None:
    pkg = Path(mc.__file__).parent
    assert (pkg / "py.typed").exists() and (pkg / "_native.pyi").exists()
