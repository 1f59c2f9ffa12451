"""Builds the evaluator benchmark models with the onnx helper API (no torch).

Usage: bench_models.py OUT_DIR. Writes <name>/model.onnx and input_0.npy for
a ResNet-style CNN and a BERT-style transformer encoder, deterministic.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(0)


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="w"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def op(self, op, inputs, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out


def conv_bn_relu(b, x, cin, cout, k=3, stride=1, relu=True):
    w = b.const((rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32))
    y = b.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)
    scale = b.const(rng.uniform(0.5, 1.5, cout).astype(np.float32))
    bias = b.const(rng.uniform(-0.1, 0.1, cout).astype(np.float32))
    mean = b.const(rng.uniform(-0.1, 0.1, cout).astype(np.float32))
    var = b.const(rng.uniform(0.5, 1.5, cout).astype(np.float32))
    y = b.op("BatchNormalization", [y, scale, bias, mean, var])
    return b.op("Relu", [y]) if relu else y


def cnn(path):
    b = Builder()
    x = conv_bn_relu(b, "input", 3, 32, stride=2)  # 112 -> 56
    x = conv_bn_relu(b, x, 32, 64)
    for _ in range(2):
        y = conv_bn_relu(b, x, 64, 64)
        y = conv_bn_relu(b, y, 64, 64, relu=False)
        x = b.op("Relu", [b.op("Add", [x, y])])
    y = conv_bn_relu(b, x, 64, 128, stride=2)  # 56 -> 28
    y = conv_bn_relu(b, y, 128, 128, relu=False)
    short = conv_bn_relu(b, x, 64, 128, k=1, stride=2, relu=False)
    x = b.op("Relu", [b.op("Add", [short, y])])
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])])
    w = b.const((rng.standard_normal((1000, 128)) * 0.05).astype(np.float32))
    c = b.const(np.zeros(1000, np.float32))
    out = b.op("Gemm", [x, w, c], transB=1)
    save(b, path, [("input", [1, 3, 112, 112])], out, [1, 1000])


def transformer(path, layers=4, d=256, heads=4, ff=1024, seq=128):
    b = Builder()
    x = "input"
    dh = d // heads

    def linear(x, din, dout):
        w = b.const((rng.standard_normal((din, dout)) / np.sqrt(din)).astype(np.float32))
        bias = b.const((rng.standard_normal(dout) * 0.02).astype(np.float32))
        return b.op("Add", [b.op("MatMul", [x, w]), bias])

    def layernorm(x):
        g = b.const(np.ones(d, np.float32))
        beta = b.const(np.zeros(d, np.float32))
        return b.op("LayerNormalization", [x, g, beta], axis=-1, epsilon=1e-5)

    def heads_split(t):
        shape = b.const(np.array([1, seq, heads, dh], np.int64), "shape")
        return b.op("Transpose", [b.op("Reshape", [t, shape])], perm=[0, 2, 1, 3])

    for _ in range(layers):
        q, k, v = (heads_split(linear(x, d, d)) for _ in range(3))
        kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        scale = b.const(np.array(1.0 / np.sqrt(dh), np.float32))
        att = b.op("Softmax", [b.op("Mul", [b.op("MatMul", [q, kt]), scale])], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
        ctx = b.op("Reshape", [ctx, b.const(np.array([1, seq, d], np.int64), "shape")])
        x = layernorm(b.op("Add", [x, linear(ctx, d, d)]))
        h = linear(x, d, ff)
        # GELU (erf form), as torch exports it.
        half = b.const(np.array(0.5, np.float32))
        one = b.const(np.array(1.0, np.float32))
        rs2 = b.const(np.array(1 / np.sqrt(2), np.float32))
        h = b.op("Mul", [b.op("Mul", [h, half]), b.op("Add", [b.op("Erf", [b.op("Mul", [h, rs2])]), one])])
        x = layernorm(b.op("Add", [x, linear(h, ff, d)]))
    save(b, path, [("input", [1, seq, d])], x, [1, seq, d])


def save(b, path, inputs, out, out_shape):
    g = helper.make_graph(
        b.nodes,
        "bench",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)],
        b.inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="xtask bench")
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(path, exist_ok=True)
    onnx.save(m, os.path.join(path, "model.onnx"))
    for i, (_, s) in enumerate(inputs):
        np.save(os.path.join(path, f"input_{i}.npy"), rng.standard_normal(s).astype(np.float32))


if __name__ == "__main__":
    out = sys.argv[1]
    cnn(os.path.join(out, "resnet_like_112"))
    transformer(os.path.join(out, "bert_like_4x256"))
