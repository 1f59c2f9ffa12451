"""The Python peer of `convert --quantize int8-dynamic`: onnxruntime's
quantize_dynamic with signed int8 weights.

Usage: bench_quantize_dynamic.py IN OUT [external]. With `external`, the
output keeps its weights in external data, as our tool does with
`--external-data`.
"""
import sys

from onnxruntime.quantization import QuantType, quantize_dynamic

quantize_dynamic(
    sys.argv[1],
    sys.argv[2],
    weight_type=QuantType.QInt8,
    use_external_data_format=len(sys.argv) > 3 and sys.argv[3] == "external",
)
