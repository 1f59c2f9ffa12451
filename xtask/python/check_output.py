"""Runs a converted model and prints its relative L2 error against the
source framework's output: MODEL_DIR holds input_0.npy and output_0.npy
(TensorFlow's from `make_keras_models.py`, torch's from the traced models).

Usage: check_output.py MODEL_DIR CONVERTED.{onnx,xml}
"""
import sys

import numpy as np

d, path = sys.argv[1], sys.argv[2]
x = np.load(f"{d}/input_0.npy")
y = np.load(f"{d}/output_0.npy")
if path.endswith(".onnx"):
    import onnxruntime as ort

    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = s.run(None, {s.get_inputs()[0].name: x})[0]
else:
    import openvino as ov

    c = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = c([x])[c.outputs[0]]
print(float(np.linalg.norm(got.astype(np.float64) - y) / np.linalg.norm(y)))
