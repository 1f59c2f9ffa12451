# model_convert quickstart: convert, inspect, quantize with a report, verify, run.
# Run from the repository root:  python examples/python_quickstart.py
# (install first: pip install ./crates/py; numpy is needed only for mc.run)

# %% Setup: outputs go to a temporary folder.
import tempfile
from pathlib import Path

import numpy as np

import model_convert as mc

out = Path(tempfile.mkdtemp(prefix="model-convert-quickstart-"))
src = Path("examples/mlp.onnx")

# %% What this build reads and writes.
print(mc.formats())

# %% Inspect a model: inputs/outputs with shapes, op histogram, parameters, bytes per dtype.
info = mc.inspect(src)
print(info)
print("inputs:", [(v.name, v.dtype, v.shape) for v in info.inputs])

# %% Convert ONNX to OpenVINO IR and check the result on the same inputs.
report = mc.convert(src, out / "mlp.xml", verify=True)
print(report)

# %% Quantize to int4 (groups of 32 weights per scale); the report shows each pass
# and the effect on the outputs (model before vs after, same inputs).
q = mc.convert(src, out / "mlp_int4.onnx", quantize="int4", group_size=32)
print(q)
print("weight bytes:", info.weight_bytes, "->", q.output.weight_bytes if q.output else None)

# %% Verify two models against each other (random inputs, or your own by name).
x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
try:
    mc.verify(src, out / "mlp_int4.onnx", {"input": x}, tolerance=1e-4)
except mc.VerificationError as e:
    # int4 is lossy: beyond a tight tolerance, the report tells by how much.
    print("int4 vs fp32:", e)
    print(e.report.verification.table() if e.report and e.report.verification else "")

# %% Run a model with the built-in reference evaluator.
y = mc.run(out / "mlp.xml", {"input": x})["output"]
print("output", y.shape, y.dtype, "argmax", y.argmax(axis=1))
