"""Runs OpenVINO IR written by `convert` in the OpenVINO CPU runtime and
compares with reference outputs.

Called by `cargo xtask interop` with a JSON job list; prints one JSON result
per job on stdout. Inference runs at f32 precision (INFERENCE_PRECISION_HINT)
so that the comparison measures the conversion, not bf16/f16 execution.
"""
import json
import math
import sys

import numpy as np
import openvino as ov

from compare import compare


def fit(model, name, value):
    """The fixtures store scalars as one-element arrays (ops_subgraph's `flag`,
    `trip_count`); OpenVINO checks ranks strictly, so such a value is reshaped
    to the input's static shape when the element counts agree."""
    port = next((p for p in model.inputs if name in p.get_names()), None)
    if port is None or not port.get_partial_shape().is_static:
        return value
    shape = tuple(port.get_partial_shape().to_shape())
    if value.shape != shape and value.size == int(np.prod(shape)):
        return value.reshape(shape)
    return value


def run(core, job):
    model = core.read_model(job["model"])
    for name in job.get("expect_dynamic", []):
        port = next(p for p in model.inputs if name in p.get_names())
        ps = port.get_partial_shape()
        # A scalar has no dimension to lose.
        if not ps.is_dynamic and ps.rank.get_length() > 0:
            return False, float("inf"), f"input {name} lost its dynamic dimension: {ps}"
    compiled = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})
    feeds = {name: fit(model, name, np.load(path)) for name, path in job["inputs"].items()}
    result = compiled(feeds)
    worst = 0.0
    for name, path in job["outputs"].items():
        port = next((o for o in compiled.outputs if name in o.get_names()), None)
        if port is None:
            return False, float("inf"), f"no output named {name}"
        ok, err, msg = compare(np.asarray(result[port]), np.load(path), job["rtol"])
        worst = max(worst, err)
        if not ok:
            return False, err, f"output {name}: {msg}"
    return True, worst, ""


def main():
    jobs = json.load(open(sys.argv[1]))
    core = ov.Core()
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
    for job in jobs:
        try:
            ok, err, msg = run(core, job)
        except Exception as e:  # report, don't stop: every row counts
            ok, err, msg = False, float("inf"), f"{type(e).__name__}: {e}".splitlines()[0]
        print(json.dumps({"id": job["id"], "ok": ok, "error": err if math.isfinite(err) else None, "message": msg}), flush=True)


if __name__ == "__main__":
    main()
