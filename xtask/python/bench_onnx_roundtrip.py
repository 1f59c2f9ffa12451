"""The Python peer of an ONNX -> ONNX conversion: onnx.load + onnx.save.

Usage: bench_onnx_roundtrip.py IN OUT [external]. With `external`, the
output keeps weights in OUT.data as our tool writes them.
"""
import sys

import onnx

m = onnx.load(sys.argv[1])
if len(sys.argv) > 3 and sys.argv[3] == "external":
    onnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True,
                    location=sys.argv[2].rsplit("/", 1)[-1] + ".data", size_threshold=1024)
else:
    onnx.save_model(m, sys.argv[2])
