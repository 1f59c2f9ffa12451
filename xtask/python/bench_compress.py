"""The Python half of `cargo xtask bench --compress`: LLM weight compression,
NNCF and onnxruntime's MatMulNBitsQuantizer against our `convert`.

Subcommands (each one process, so the tool rows are timed and measured alone):

  make ROOT MODEL          generate MODEL (llama | gpt2) under ROOT/MODEL:
                           model.onnx (torch.onnx dynamo export), model.xml/.bin
                           (OpenVINO's converter on that ONNX), input_ids.npy
                           (the 16 evaluation inputs, stacked), ref.npy (PyTorch's float
                           logits on it) and calib/NNN.npy (calibration
                           samples); skipped when ROOT/MODEL/done exists
  nncf DIR OUT.xml JSON    nncf.compress_weights on DIR/model.xml; JSON is
                           {"kwargs": {name: value}}; saves OUT.xml
  ort DIR OUT.onnx JSON    MatMulNBitsQuantizer on DIR/model.onnx; JSON is
                           {"kwargs": {..}, "config": CLASS, "config_kwargs":
                           {..}} (CLASS one of matmul_nbits_quantizer's
                           *WeightOnlyQuantConfig); saves OUT.onnx

Keyword values are Python literals as text ("16", "True", "('MatMul',)"),
except "mode" (a CompressWeightsMode name) and "calib" (the calibration
samples: an nncf.Dataset, or a CalibrationDataReader for onnxruntime).
  check DIR MODEL          runs MODEL (.onnx in onnxruntime, .xml in OpenVINO
                           CPU at f32) on each of DIR/input_ids.npy and prints one JSON
                           line: SQNR of the logits against DIR/ref.npy (dB)
                           and the model's weight bytes

A tool that refuses a configuration exits with status 3 and its message on the
last line of stderr as "refused: <message>".
"""
import ast
import json
import os
import sys
import warnings

import numpy as np

SEQ = 32
CALIB_SAMPLES = 16
EVAL_SEED = 1234
# Held-out evaluation sequences (seeds EVAL_SEED..), summed into one SQNR.
EVAL_SAMPLES = 16
# The cache marker; bumped when what `make` writes changes.
DONE = "done-v2"
CALIB_SEED = 2000
MODEL_SEED = 0
REFUSED = 3
# The keyword value that stands for the calibration samples.
CALIB = "calib"


def build_model(name):
    """The seeded random-weight transformers model and its vocabulary size."""
    import torch

    torch.manual_seed(MODEL_SEED)
    if name == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(
            vocab_size=32000,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=4,
            num_attention_heads=8,
            num_key_value_heads=2,
            tie_word_embeddings=True,
            max_position_embeddings=512,
        )
        model = LlamaForCausalLM(cfg)
    elif name == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        cfg = GPT2Config(n_layer=4, n_embd=256, n_head=8)
        model = GPT2LMHeadModel(cfg)
    else:
        raise SystemExit(f"unknown model {name!r} (llama or gpt2)")
    model.config.use_cache = False
    return model.eval(), cfg.vocab_size


def make(root, name):
    import torch

    out = os.path.join(root, name)
    if os.path.exists(os.path.join(out, DONE)):
        return
    os.makedirs(os.path.join(out, "calib"), exist_ok=True)
    model, vocab = build_model(name)

    class LogitsOnly(torch.nn.Module):
        """input_ids in, logits out: no cache, no attention mask, no dict."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False).logits

    wrapped = LogitsOnly(model).eval()
    # EVAL_SAMPLES held-out sequences: the output SQNR of one [1, 32] input
    # moved by +-1 dB between quantizers of equal weight error.
    evals = np.stack(
        [
            np.random.default_rng(EVAL_SEED + i).integers(0, vocab, (1, SEQ), dtype=np.int64)
            for i in range(EVAL_SAMPLES)
        ]
    )
    with torch.no_grad():
        ref = np.stack([wrapped(torch.from_numpy(x)).numpy() for x in evals])
    ids = evals[0]
    np.save(os.path.join(out, "input_ids.npy"), evals)
    np.save(os.path.join(out, "ref.npy"), ref.astype(np.float32))
    for i in range(CALIB_SAMPLES):
        sample = np.random.default_rng(CALIB_SEED + i).integers(0, vocab, (1, SEQ), dtype=np.int64)
        np.save(os.path.join(out, "calib", f"{i:03d}.npy"), sample)
    onnx_path = os.path.join(out, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped,
            (torch.from_numpy(ids),),
            onnx_path,
            dynamo=True,
            input_names=["input_ids"],
            output_names=["logits"],
            dynamic_shapes={"input_ids": {1: torch.export.Dim("seq", min=2, max=512)}},
            external_data=False,
        )
    import openvino as ov

    ov.save_model(ov.convert_model(onnx_path), os.path.join(out, "model.xml"), compress_to_fp16=False)
    with open(os.path.join(out, DONE), "w") as f:
        f.write("ok\n")


def calibration(model_dir):
    """The calibration samples, in file-name order."""
    d = os.path.join(model_dir, "calib")
    return [np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.endswith(".npy")]


def refuse(err):
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    print(f"refused: {type(err).__name__}: {first}", file=sys.stderr)
    sys.exit(REFUSED)


def literal(value, calib):
    """A keyword argument's value: CALIB (the calibration samples, built by
    `calib`) or a Python literal."""
    return calib() if value == CALIB else ast.literal_eval(value)


def run_nncf(model_dir, out_xml, config):
    import nncf
    import openvino as ov

    kwargs = {}
    for key, value in config["kwargs"].items():
        if key == "mode":
            kwargs[key] = getattr(nncf.CompressWeightsMode, value)
        else:
            kwargs[key] = literal(value, lambda: nncf.Dataset([{"input_ids": s} for s in calibration(model_dir)]))
    model = ov.Core().read_model(os.path.join(model_dir, "model.xml"))
    try:
        compressed = nncf.compress_weights(model, **kwargs)
    except Exception as err:  # noqa: BLE001 - the row reports whatever NNCF raises
        refuse(err)
    ov.save_model(compressed, out_xml, compress_to_fp16=False)


class CalibReader:
    """onnxruntime's CalibrationDataReader over the calibration samples (the
    GPTQ path deep-copies it and iterates the copy)."""

    def __init__(self, samples):
        self.samples = samples
        self.rewind()

    def get_next(self):
        return next(self.it, None)

    def rewind(self):
        self.it = iter([{"input_ids": s} for s in self.samples])

    def __iter__(self):
        self.rewind()
        return self

    def __next__(self):
        item = self.get_next()
        if item is None:
            raise StopIteration
        return item


def run_ort(model_dir, out_onnx, config):
    import onnx
    from onnxruntime.quantization import matmul_nbits_quantizer as mnq

    def reader():
        return CalibReader(calibration(model_dir))

    quantizer_kwargs = {k: literal(v, reader) for k, v in config["kwargs"].items()}
    config_kwargs = {k: literal(v, reader) for k, v in config["config_kwargs"].items()}
    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    try:
        algo_config = getattr(mnq, config["config"])(**config_kwargs)
        quant = mnq.MatMulNBitsQuantizer(model, algo_config=algo_config, **quantizer_kwargs)
        quant.process()
    except Exception as err:  # noqa: BLE001 - the row reports whatever onnxruntime raises
        refuse(err)
    quant.model.save_model_to_file(out_onnx, use_external_data_format=False)


def onnx_tensor_bytes(t):
    """Bytes of one TensorProto as stored: 4-bit types packed two per byte."""
    import onnx

    numel = int(np.prod(t.dims)) if len(t.dims) else 1
    four_bit = {onnx.TensorProto.INT4, onnx.TensorProto.UINT4}
    if hasattr(onnx.TensorProto, "FLOAT4E2M1"):
        four_bit.add(onnx.TensorProto.FLOAT4E2M1)
    if t.data_type in four_bit:
        return (numel + 1) // 2
    if t.data_type == onnx.TensorProto.STRING:
        return sum(len(s) for s in t.string_data)
    return numel * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize


def onnx_weight_bytes(path):
    """Initializers (dense and sparse) plus Constant-node tensors, subgraphs included."""
    import onnx

    model = onnx.load(path, load_external_data=False)

    def graph_bytes(g):
        total = sum(onnx_tensor_bytes(t) for t in g.initializer)
        for s in g.sparse_initializer:
            total += onnx_tensor_bytes(s.values) + onnx_tensor_bytes(s.indices)
        for node in g.node:
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    total += onnx_tensor_bytes(a.t)
                elif a.type == onnx.AttributeProto.GRAPH:
                    total += graph_bytes(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    total += sum(graph_bytes(s) for s in a.graphs)
        return total

    return graph_bytes(model.graph)


def ir_weight_bytes(path):
    """Bytes of the IR's Const layers in the .bin, each stored blob counted once."""
    import xml.etree.ElementTree as ET

    blobs = set()
    for layer in ET.parse(path).getroot().iter("layer"):
        if layer.get("type") != "Const":
            continue
        data = layer.find("data")
        if data is not None and data.get("size") is not None:
            blobs.add((int(data.get("offset", "0")), int(data.get("size"))))
    return sum(size for _, size in blobs)


def check(model_dir, model_path):
    evals = np.load(os.path.join(model_dir, "input_ids.npy"))
    refs = np.load(os.path.join(model_dir, "ref.npy"))
    if model_path.endswith(".xml"):
        import openvino as ov

        compiled = ov.Core().compile_model(model_path, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        run = lambda x: compiled({compiled.inputs[0]: x})[compiled.outputs[0]]  # noqa: E731
        size = ir_weight_bytes(model_path)
    else:
        import onnxruntime as ort

        sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        run = lambda x: sess.run(None, {name: x})[0]  # noqa: E731
        size = onnx_weight_bytes(model_path)
    noise = signal = 0.0
    for ids, ref in zip(evals, refs):
        ref = ref.astype(np.float64)
        out = np.asarray(run(ids), dtype=np.float64).reshape(ref.shape)
        noise += float(np.sum((ref - out) ** 2))
        signal += float(np.sum(ref**2))
    sqnr = 10.0 * np.log10(signal / noise) if noise > 0 else float("inf")
    print(json.dumps({"sqnr_db": sqnr if np.isfinite(sqnr) else 999.0, "bytes": size}))


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    cmd = argv[0]
    if cmd == "make":
        make(argv[1], argv[2])
    elif cmd == "nncf":
        run_nncf(argv[1], argv[2], json.loads(argv[3]))
    elif cmd == "ort":
        run_ort(argv[1], argv[2], json.loads(argv[3]))
    elif cmd == "check":
        check(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
