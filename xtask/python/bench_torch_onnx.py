"""The Python peer of a TorchScript -> ONNX conversion: torch.jit.load, then
torch.onnx.export (TorchScript-based exporter, opset 17) on the loaded module.

Usage: bench_torch_onnx.py MODEL.pt INPUT_0.npy OUT.onnx
"""
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
m = torch.jit.load(sys.argv[1], map_location="cpu").eval()
x = torch.from_numpy(np.load(sys.argv[2]))
torch.onnx.export(m, (x,), sys.argv[3], opset_version=17, dynamo=False)
