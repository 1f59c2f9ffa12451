"""The Python peer of an ONNX -> OpenVINO IR conversion: openvino's own converter.

Usage: bench_openvino_convert.py IN.onnx OUT.xml. Weights stay f32
(compress_to_fp16=False), as our writer keeps them.
"""
import sys

import openvino as ov

ov.save_model(ov.convert_model(sys.argv[1]), sys.argv[2], compress_to_fp16=False)
