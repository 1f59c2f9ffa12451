"""Typical use of model_convert, checked with `mypy --strict` by test_types.py (not run itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

import model_convert as mc


def convert_and_check(src: Path, dst: str) -> float:
    report: mc.Report = mc.convert(src, dst, quantize="int8", group_size=64, verify=True, tolerance=1e-2)
    assert report.verification is not None
    rows: List[mc.OutputRow] = report.verification.outputs
    worst: Optional[float] = max((r.rel_l2 or 0.0) for r in rows)
    files: List[tuple[str, int]] = report.files
    return (worst or 0.0) + len(files)


def describe(path: str) -> Dict[str, int]:
    info: mc.ModelInfo = mc.inspect(path)
    shapes = [v.shape for v in info.inputs]
    assert shapes
    return info.ops


def evaluate(path: str) -> np.ndarray:
    outputs: Dict[str, np.ndarray] = mc.run(path, {"input": np.zeros((4, 64), np.float32)})
    return outputs["output"]


def failures(path: str) -> str:
    try:
        mc.verify(path, path, tolerance=0.0)
    except mc.UnsupportedOpsError as e:
        return ", ".join(e.op_names)
    except mc.VerificationError as e:
        return str(e.report.verification)
    except mc.ConvertIOError as e:
        return e.strerror or e.message
    except mc.ConvertError as e:
        return f"{e.kind}: {e.exit_code}"
    return mc.__version__ + " ".join(mc.formats().read)
