"""Runs TorchScript archives with torch.jit.load and compares with reference outputs.

Called with a JSON job list (`id`, `model`, `inputs` in graph-input order,
`outputs` in graph-output order, `rtol`, optional `dynamic_batch_inputs`:
indices of inputs whose first dimension is symbolic); prints one JSON result
per job on stdout, like run_onnxruntime.py. A job may name `reference_onnx`
instead of inputs and outputs: inputs are then drawn from a fixed seed
(symbolic dimensions 3) and the references come from that ONNX model in
onnxruntime, imported only for such jobs. For jobs with a dynamic batch the
model is also run on the inputs repeated twice along that dimension and must
give the reference repeated twice: a dimension baked into the code fails.
Kept free of anything but numpy and torch.
"""
import json
import math
import sys
import warnings

import numpy as np
import torch
from compare import compare

warnings.filterwarnings("ignore")  # torch.jit.load is deprecated in torch 2.15; the format is what is tested


def forward(module, arrays):
    with torch.no_grad():
        out = module(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays])
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in outs]


def check(outs, refs, rtol, what):
    worst = 0.0
    if len(outs) != len(refs):
        return False, float("inf"), f"{what}{len(outs)} outputs, reference has {len(refs)}"
    for k, (got, ref) in enumerate(zip(outs, refs)):
        ok, err, msg = compare(got, ref, rtol)
        worst = max(worst, err)
        if not ok:
            return False, err, f"{what}output {k}: {msg}"
    return True, worst, ""


ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8, "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


def onnx_reference(path, batch=3):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    inputs = []
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in i.shape]
        dt = ORT_TYPES[i.type]
        if np.issubdtype(dt, np.floating):
            inputs.append(rng.standard_normal(shape).astype(dt))
        elif dt == np.bool_:
            inputs.append(rng.integers(0, 2, shape).astype(dt))
        else:
            inputs.append(rng.integers(-9, 10, shape).astype(dt))
    refs = sess.run(None, {i.name: a for i, a in zip(sess.get_inputs(), inputs)})
    return inputs, [np.asarray(r) for r in refs]


def run(job):
    torch.set_num_threads(1)
    module = torch.jit.load(job["model"], map_location="cpu")
    module.eval()
    if "reference_onnx" in job:
        # Symbolic dimensions at two sizes: a size baked into the code fails the second.
        worst = 0.0
        for batch in (3, 5) if job.get("dynamic_batch_inputs") else (3,):
            inputs, refs = onnx_reference(job["reference_onnx"], batch)
            ok, err, msg = check(forward(module, inputs), refs, job["rtol"], f"size {batch}: ")
            worst = max(worst, err)
            if not ok:
                return ok, worst, msg
        return True, worst, ""
    else:
        inputs = [np.load(p) for p in job["inputs"]]
        refs = [np.load(p) for p in job["outputs"]]
    ok, worst, msg = check(forward(module, inputs), refs, job["rtol"], "")
    if not ok:
        return ok, worst, msg
    dyn = job.get("dynamic_batch_inputs", [])
    if dyn:
        doubled = [np.concatenate([a, a]) if i in dyn else a for i, a in enumerate(inputs)]
        outs = forward(module, doubled)
        # Only outputs that carry the batch dimension double; compare each half.
        halves = [[o[: len(o) // 2], o[len(o) // 2 :]] if r.ndim > 0 and o.shape[:1] == (2 * r.shape[0],) else [o] for o, r in zip(outs, refs)]
        for half in range(2):
            ok2, err2, msg2 = check([h[min(half, len(h) - 1)] for h in halves], refs, job["rtol"], "batch 2: ")
            worst = max(worst, err2)
            if not ok2:
                return ok2, worst, msg2
    return True, worst, ""


def main():
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        try:
            ok, err, msg = run(job)
        except Exception as e:  # report, don't stop: every row counts
            # TorchScript errors span many lines; keep the non-empty ones on one line.
            text = " | ".join(l.strip() for l in str(e).splitlines() if l.strip())
            ok, err, msg = False, float("inf"), f"{type(e).__name__}: {text[:400]}"
        print(json.dumps({"id": job["id"], "ok": ok, "error": err if math.isfinite(err) else None, "message": msg}), flush=True)


if __name__ == "__main__":
    main()
