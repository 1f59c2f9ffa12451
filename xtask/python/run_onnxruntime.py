"""Runs converted ONNX models in onnxruntime and compares with reference outputs.

Called by `cargo xtask interop` with a JSON job list; prints one JSON result
per job on stdout. Kept free of anything but numpy and onnxruntime.
"""
import json
import math
import sys

import numpy as np
import onnxruntime as ort
from compare import compare


def run(job):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(job["model"], opts, providers=["CPUExecutionProvider"])
    for name in job.get("expect_dynamic", []):
        shape = next(i.shape for i in sess.get_inputs() if i.name == name)
        # A scalar has no dimension to lose.
        if shape and not any(isinstance(d, str) or d is None for d in shape):
            return False, float("inf"), f"input {name} lost its dynamic dimension: {shape}"
    feeds = {name: np.load(path) for name, path in job["inputs"].items()}
    names = list(job["outputs"])
    outs = sess.run(names, feeds)
    worst = 0.0
    for name, got in zip(names, outs):
        ok, err, msg = compare(np.asarray(got), np.load(job["outputs"][name]), job["rtol"])
        worst = max(worst, err)
        if not ok:
            return False, err, f"output {name}: {msg}"
    return True, worst, ""


def main():
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        try:
            ok, err, msg = run(job)
        except Exception as e:  # report, don't stop: every row counts
            ok, err, msg = False, float("inf"), f"{type(e).__name__}: {e}".splitlines()[0]
        print(json.dumps({"id": job["id"], "ok": ok, "error": err if math.isfinite(err) else None, "message": msg}), flush=True)


if __name__ == "__main__":
    main()
