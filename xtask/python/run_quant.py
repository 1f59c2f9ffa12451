"""Quantization rows of `cargo xtask interop`.

`prepare JOBS`: for each fixture, writes calibration samples (the fixture
input plus seeded noise, as .npy) and the anchor: onnxruntime's
`quantize_dynamic` (weight_type=QInt8, defaults otherwise) applied to the
fixture after an exact Gemm -> MatMul + Add rewrite (quantize_dynamic does not
quantize Gemm; the rewrite lets it cover the same layers as our pass).

`run JOBS`: runs the float fixture, the anchor and each of our quantized
models in onnxruntime on the fixture input and 15 seeded perturbations of it
(the same for every model) and prints one JSON line per model: SQNR (dB)
over all of them and on the fixture input alone, cosine against the float
model's outputs, and the file size (model plus external data or weights).
Candidates ending in `.xml` are OpenVINO IR (the same quantized model
converted) and run in OpenVINO's CPU plugin at f32 inference precision, so
the SQNR measures the lowering, not bf16 execution.

`llm JOB`: the LLM rows (see `llm`); `ort-matmulnbits SRC DST BLOCK
symmetric|asymmetric`: onnxruntime's MatMulNBitsQuantizer on SRC.
"""
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def gemm_to_matmul(model):
    """Rewrites Gemm(A, B, C) with alpha=beta=1, transA=0 into MatMul + Add (exact)."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = []
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if (n.op_type == "Gemm" and attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0
                and attrs.get("transA", 0) == 0 and n.input[1] in inits):
            b = numpy_helper.to_array(inits[n.input[1]])
            if attrs.get("transB", 0):
                b = b.T.copy()
            name = n.input[1] + "_T"
            g.initializer.append(numpy_helper.from_array(b, name))
            mm_out = n.output[0] + "_matmul"
            if len(n.input) > 2 and n.input[2]:
                nodes.append(helper.make_node("MatMul", [n.input[0], name], [mm_out], name=n.name + "_MatMul"))
                nodes.append(helper.make_node("Add", [mm_out, n.input[2]], [n.output[0]], name=n.name + "_Add"))
            else:
                nodes.append(helper.make_node("MatMul", [n.input[0], name], [n.output[0]], name=n.name + "_MatMul"))
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model


def prepare(job):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    os.makedirs(job["calibration"], exist_ok=True)
    x = np.load(job["input"])
    rng = np.random.default_rng(7)
    for k in range(8):
        noisy = (x + 0.5 * rng.standard_normal(x.shape)).astype(x.dtype)
        np.save(os.path.join(job["calibration"], f"sample_{k}.npy"), noisy)
    rewritten = job["anchor"] + ".gemm_as_matmul.onnx"
    onnx.save(gemm_to_matmul(onnx.load(job["model"])), rewritten)
    quantize_dynamic(rewritten, job["anchor"], weight_type=QuantType.QInt8)
    os.remove(rewritten)


def size(path):
    total = os.path.getsize(path)
    data = path[:-4] + ".bin" if path.endswith(".xml") else path + ".data"
    return total + (os.path.getsize(data) if os.path.exists(data) else 0)


_ov_core = None
_ov_compiled = {}


def run_openvino(path, feeds):
    import openvino as ov

    global _ov_core
    if _ov_core is None:
        _ov_core = ov.Core()
        _ov_core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
    if path not in _ov_compiled:
        _ov_compiled[path] = _ov_core.compile_model(
            _ov_core.read_model(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})
    compiled = _ov_compiled[path]
    return compiled(feeds)[compiled.outputs[0]]


def run_model(path, feeds):
    if str(path).endswith(".xml"):
        return run_openvino(path, feeds)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


def run(job):
    """SQNR over the fixture input and 15 seeded perturbations of it, the
    same for every model: one [1, 10] logits vector alone is too few numbers
    to rank two int8 schemes (their SQNRs swap with the input)."""
    x = np.load(job["input"])
    rng = np.random.default_rng(11)
    inputs = [x] + [(x + 0.5 * rng.standard_normal(x.shape)).astype(x.dtype) for _ in range(15)]
    refs = [run_model(job["model"], {job["input_name"]: v}) for v in inputs]
    out = []
    for m in job["candidates"]:
        try:
            signal = noise = signal0 = noise0 = dot = g2 = 0.0
            for k, (v, ref) in enumerate(zip(inputs, refs)):
                got = np.asarray(run_model(m["path"], {job["input_name"]: v}), np.float64).ravel()
                r = np.asarray(ref, np.float64).ravel()
                signal += np.sum(r ** 2)
                noise += np.sum((got - r) ** 2)
                dot += np.dot(got, r)
                g2 += np.sum(got ** 2)
                if k == 0:
                    signal0, noise0 = signal, noise
            db = lambda s, n: float("inf") if n == 0 else float(10 * np.log10(s / n))
            out.append({"id": m["id"], "ok": True, "sqnr": db(signal, noise), "sqnr_fixture": db(signal0, noise0),
                        "cosine": float(dot / (np.sqrt(signal * g2) + 1e-30)), "bytes": size(m["path"])})
        except Exception as e:  # report, don't stop: every row counts
            out.append({"id": m["id"], "ok": False, "message": f"{type(e).__name__}: {e}".splitlines()[0]})
    return out


def llm(job):
    """The LLM rows: each candidate (ONNX in onnxruntime, IR in OpenVINO) on
    the token ids, against our evaluator's output on the same file
    (`eval`, the gate) and, for IR files, on the ONNX it came from
    (`onnx_eval`, informational); SQNR against torch's logits."""
    ids = np.load(job["input"])
    ref = np.asarray(np.load(job["reference"]), np.float64)
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
    for m in job["candidates"]:
        try:
            got = np.asarray(run_model(m["path"], {job["input_name"]: ids}), np.float64)
            ours = np.asarray(np.load(m["eval"]), np.float64)
            r = {"id": m["id"], "ok": True, "rel_l2": rel(got, ours), "bytes": size(str(m["path"])),
                 "sqnr": float(10 * np.log10(np.sum(ref ** 2) / np.sum((got - ref) ** 2)))}
            if "onnx_eval" in m:
                r["rel_l2_vs_onnx_eval"] = rel(got, np.asarray(np.load(m["onnx_eval"]), np.float64))
        except Exception as e:  # report, don't stop: every row counts
            r = {"id": m["id"], "ok": False, "message": f"{type(e).__name__}: {e}".splitlines()[0]}
        print(json.dumps(r), flush=True)


def ort_matmulnbits(src, dst, block_size, symmetric):
    """onnxruntime's own int4 writer (MatMulNBitsQuantizer, RTN), so the
    rows check that we read what onnxruntime writes, not only our own form."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (DefaultWeightOnlyQuantConfig,
                                                                 MatMulNBitsQuantizer)
    # At opset 21 (blocked DequantizeLinear) we read the int4 weights back as
    # int4; below it, as floats. Gather too: its GatherBlockQuantized form.
    from onnx import version_converter
    model = version_converter.convert_version(onnx.load(src), 21)
    q = MatMulNBitsQuantizer(model, algo_config=DefaultWeightOnlyQuantConfig(
        block_size=block_size, is_symmetric=symmetric, op_types_to_quantize=("MatMul", "Gather")))
    q.process()
    q.model.save_model_to_file(dst, use_external_data_format=False)


def main():
    if sys.argv[1] == "ort-matmulnbits":
        ort_matmulnbits(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] == "symmetric")
        return
    if sys.argv[1] == "llm":
        llm(json.load(open(sys.argv[2])))
        return
    jobs = json.load(open(sys.argv[2]))
    for job in jobs:
        if sys.argv[1] == "prepare":
            try:
                prepare(job)
                print(json.dumps({"case": job["case"], "ok": True}), flush=True)
            except Exception as e:
                print(json.dumps({"case": job["case"], "ok": False, "message": f"{type(e).__name__}: {e}"}), flush=True)
        else:
            for r in run(job):
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
