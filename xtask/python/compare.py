"""The comparison every runtime runner uses (run_onnxruntime.py,
run_openvino.py, run_tf.py, run_torch.py): exact for integers and bools,
relative L2 against the reference for floats. numpy only.
"""
import numpy as np


def compare(got, ref, rtol):
    if got.shape != ref.shape:
        return False, float("inf"), f"shape {got.shape} != reference {ref.shape}"
    if got.dtype != ref.dtype:
        return False, float("inf"), f"dtype {got.dtype} != reference {ref.dtype}"
    if not np.issubdtype(ref.dtype, np.floating):
        ok = np.array_equal(got, ref)
        return ok, 0.0 if ok else 1.0, "" if ok else "integer outputs differ"
    g, r = got.astype(np.float64), ref.astype(np.float64)
    norm = np.linalg.norm(r)
    err = np.linalg.norm(g - r) / norm if norm > 0 else np.max(np.abs(g - r), initial=0.0)
    return bool(err <= rtol), float(err), "" if err <= rtol else f"relative error {err:.3g} > {rtol:g}"
