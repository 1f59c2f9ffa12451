"""Writes large synthetic MLPs for the conversion benchmark.

Usage: bench_big_models.py OUT_DIR MiB [MiB ...]. For each size S writes
mlp_<S>mib/model.onnx (weights inline) and mlp_<S>mib_ext/model.onnx
(+ model.onnx.data, external data), with a dynamic batch dimension.
Inline models over 2 GiB cannot exist in protobuf, so only the external
variant is written for them.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(mib, d=4096):
    layer_bytes = d * d * 4
    layers = max(1, (mib << 20) // layer_bytes)
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        w = (rng.standard_normal((d, d), dtype=np.float32) * (1 / np.sqrt(d))).astype(np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"h{i}"]))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"]))
        x = f"r{i}"
    g = helper.make_graph(
        nodes,
        f"mlp_{mib}mib",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", d])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", d])],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="xtask bench")
    m.ir_version = 8
    return m


def main():
    out = sys.argv[1]
    for s in map(int, sys.argv[2:]):
        m = build(s)
        inline = os.path.join(out, f"mlp_{s}mib")
        if s < 2000 and not os.path.exists(os.path.join(inline, "model.onnx")):
            os.makedirs(inline, exist_ok=True)
            onnx.save_model(m, os.path.join(inline, "model.onnx"))
        # Saving with external data rewrites the tensors of `m` in place: do it last.
        ext = os.path.join(out, f"mlp_{s}mib_ext")
        if not os.path.exists(os.path.join(ext, "model.onnx")):
            os.makedirs(ext, exist_ok=True)
            onnx.save_model(m, os.path.join(ext, "model.onnx"), save_as_external_data=True,
                            all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=1024)
        print(f"mlp_{s}mib ready", flush=True)


if __name__ == "__main__":
    main()
