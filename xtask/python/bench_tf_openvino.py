"""The Python peer of a SavedModel -> OpenVINO IR conversion: OpenVINO's converter.

Usage: bench_tf_openvino.py SAVED_MODEL_DIR OUT.xml. Weights stay f32
(compress_to_fp16=False), as our writer keeps them.
"""
import sys

import openvino as ov

ov.save_model(ov.convert_model(sys.argv[1]), sys.argv[2], compress_to_fp16=False)
