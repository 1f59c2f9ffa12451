"""The `model-convert` console script: the command line's arguments and exit codes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from test_errors import unsupported_model


def run(script: str, *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([script, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_exit_codes(script: str, mlp: Path, tmp_path: Path) -> None:
    ok = run(script, mlp, tmp_path / "m.xml", "--verify")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "m.xml").exists() and "verify: all 1 output(s)" in ok.stdout
    assert run(script, "--version").returncode == 0
    usage = run(script, mlp, tmp_path / "m.onnx", "--no-such-flag")
    assert usage.returncode == 2 and "--no-such-flag" in usage.stderr
    missing = run(script, tmp_path / "nope.onnx", tmp_path / "x.onnx")
    assert missing.returncode == 5 and missing.stderr.startswith("error: cannot convert"), missing.stderr
    bad = tmp_path / "u.onnx"
    bad.write_bytes(unsupported_model())
    assert run(script, bad, tmp_path / "u.xml").returncode == 3
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(b"\x08\x07garbage\xff\xff")
    assert run(script, "inspect", garbage).returncode == 4
    q = tmp_path / "q.onnx"
    assert run(script, mlp, q, "--quantize", "int4", "--group-size", "16").returncode == 0
    assert run(script, "verify", mlp, q, "--tolerance", "1e-9").returncode == 1


def test_inspect_and_list_formats(script: str, mlp: Path) -> None:
    r = run(script, "inspect", mlp)
    assert r.returncode == 0 and "Gemm" in r.stdout
    r = run(script, "--list-formats")
    assert r.returncode == 0 and "openvino" in r.stdout
