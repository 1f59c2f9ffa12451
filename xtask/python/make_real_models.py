"""Real architectures at real size for `cargo xtask interop --models`.

`make OUT_DIR [--models a,b]`: builds each model with random weights (fixed
seed, each library's own initialization as the constructor leaves it, so
equal tensors such as fresh norm weights are there for the exporters to
share, as in the reports that prompted this tier), exports it with torch.onnx's TorchScript exporter (`dynamo=False`,
opset 17) and with the dynamo exporter (`dynamo=True`, its defaults), converts
each ONNX file with OpenVINO's own converter (`openvino.convert_model`, saved
with `compress_to_fp16=False`), and keeps one reference input, the torch
output, and the source ONNX model's outputs in onnxruntime and in OpenVINO
(f32 inference precision). One `entry.json` per (model, exporter) describes
what was written; an exporter that fails on a model is recorded there with
its error (the exporter's failure, not the converter's). An export whose
`entry.json` was written by the same version of this script is reused.

`sizes FILE...`: prints one JSON line per ONNX file with its weight bytes:
every initializer counted once by name (plus the tensors of Constant nodes),
from the declared shapes and element types, so inline, raw, typed and
external storage count alike.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Nothing may come from a hub: the models are built from their configs.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

SEED = 0
# Bump when what `make` writes changes: exports from an older version are redone.
VERSION = 2
IMAGE = (1, 3, 224, 224)
SEQ = 16  # tokens in the text models' reference input


def _hf_vision(cls_name: str, config_name: str):
    def build():
        import transformers

        config = getattr(transformers, config_name)()
        return getattr(transformers, cls_name)(config), {"pixel_values": _image()}

    return build


def _image() -> np.ndarray:
    return np.random.default_rng(SEED).standard_normal(IMAGE).astype(np.float32)


def _tokens(vocab: int) -> np.ndarray:
    return np.random.default_rng(SEED).integers(0, vocab, size=(1, SEQ), dtype=np.int64)


def _bert():
    import transformers

    config = transformers.BertConfig()
    ids = _tokens(config.vocab_size)
    return transformers.BertModel(config, add_pooling_layer=False), {
        "input_ids": ids,
        "attention_mask": np.ones_like(ids),
    }


def _gpt2():
    import transformers

    config = transformers.GPT2Config(use_cache=False)
    assert config.tie_word_embeddings, "GPT-2 small ties its input and output embeddings"
    ids = _tokens(config.vocab_size)
    # With an explicit mask, as text-generation exports feed it.
    return transformers.GPT2LMHeadModel(config), {"input_ids": ids, "attention_mask": np.ones_like(ids)}


def _torchvision(name: str):
    def build():
        import torchvision

        return getattr(torchvision.models, name)(weights=None), {"input": _image()}

    return build


# name -> (what it is, builder returning (module, ordered inputs)).
MODELS = {
    "resnet50": ("transformers ResNetForImageClassification(ResNetConfig())", _hf_vision("ResNetForImageClassification", "ResNetConfig")),
    "mobilenetv2": ("transformers MobileNetV2ForImageClassification(MobileNetV2Config())", _hf_vision("MobileNetV2ForImageClassification", "MobileNetV2Config")),
    "convnext_tiny": ("transformers ConvNextForImageClassification(ConvNextConfig()) (tiny)", _hf_vision("ConvNextForImageClassification", "ConvNextConfig")),
    "vit_base": ("transformers ViTForImageClassification(ViTConfig()) (base, patch 16, 224)", _hf_vision("ViTForImageClassification", "ViTConfig")),
    "bert_base": ("transformers BertModel(BertConfig()) (base), last_hidden_state", _bert),
    "gpt2": ("transformers GPT2LMHeadModel(GPT2Config(use_cache=False)) (small, tied embeddings)", _gpt2),
    "resnet18": ("torchvision resnet18(weights=None)", _torchvision("resnet18")),
    "mobilenet_v3_small": ("torchvision mobilenet_v3_small(weights=None)", _torchvision("mobilenet_v3_small")),
}

EXPORTS = ("torchscript", "dynamo")


def _first_output(module, names: list[str]):
    """The module behind the export: feeds a transformers model its inputs by
    name (GPT-2's second positional parameter is its cache, not the mask)
    and returns the model's
    first output alone (logits, or BERT's last hidden state), so every export
    has one output."""
    import torch

    class First(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, *args):
            # transformers models take their inputs by name; torchvision's by position.
            by_name = hasattr(self.m, "config")
            out = self.m(**dict(zip(names, args))) if by_name else self.m(*args)
            return out if isinstance(out, torch.Tensor) else out[0]

    return First(module)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    np.save(path, np.ascontiguousarray(arr), allow_pickle=False)


def _err_line(e: BaseException) -> str:
    lines = [l for l in f"{type(e).__name__}: {e}".splitlines() if l.strip()]
    return lines[0][:600] if lines else type(e).__name__


def _script_version() -> int:
    return VERSION


def _export(kind: str, module, feeds: dict, path: Path) -> None:
    import torch

    args = tuple(torch.from_numpy(v) for v in feeds.values())
    names = list(feeds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "torchscript":
            torch.onnx.export(module, args, str(path), dynamo=False, opset_version=17,
                              input_names=names, output_names=["output"])
        else:
            torch.onnx.export(module, args, str(path), dynamo=True, input_names=names,
                              output_names=["output"], verbose=False)


def _run_ort(path: Path, feeds: dict) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, feeds)[0])


def _run_ov(core, path: Path, feeds: dict) -> np.ndarray:
    # f32 precision, as in run_openvino.py, so the comparison measures the
    # conversion rather than bf16 execution.
    compiled = core.compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                     "DYNAMIC_QUANTIZATION_GROUP_SIZE": "0"})
    return np.asarray(compiled(feeds)[compiled.outputs[0]])


def _rel_l2(ref: np.ndarray, got: np.ndarray) -> float:
    r, g = ref.astype(np.float64), got.astype(np.float64)
    n = np.linalg.norm(r)
    return float(np.linalg.norm(g - r) / n) if n > 0 else float(np.max(np.abs(g - r), initial=0.0))


def make_one(name: str, kind: str, out: Path, core) -> dict:
    import torch

    d = out / name / kind
    entry_path = d / "entry.json"
    version = _script_version()
    if entry_path.exists():
        old = json.loads(entry_path.read_text())
        if old.get("script") == version:
            old["reused"] = True
            return old
    for f in d.glob("*") if d.exists() else []:
        f.unlink()
    d.mkdir(parents=True, exist_ok=True)
    what, build = MODELS[name]
    entry: dict = {"name": name, "export": kind, "what": what, "script": version, "status": "ok"}
    torch.manual_seed(SEED)
    module, feeds = build()
    module = _first_output(module.eval(), list(feeds)).eval()
    entry["parameters"] = int(sum(p.numel() for p in module.parameters()))
    with torch.no_grad():
        ref = module(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    inputs = {}
    for k, (n, v) in enumerate(feeds.items()):
        _save_npy(d / f"input_{k}.npy", v)
        inputs[n] = str(d / f"input_{k}.npy")
    entry["inputs"] = inputs
    _save_npy(d / "torch_output.npy", ref)
    model = d / "model.onnx"
    t = time.perf_counter()
    try:
        with torch.no_grad():
            _export(kind, module, feeds, model)
    except Exception as e:  # the exporter's failure: recorded, not ours
        entry["status"] = "export_failed"
        entry["error"] = _err_line(e)
        entry["traceback_tail"] = traceback.format_exc().splitlines()[-3:]
        entry_path.write_text(json.dumps(entry, indent=1))
        return entry
    entry["export_seconds"] = round(time.perf_counter() - t, 1)
    entry["model"] = str(model)
    import onnx

    m = onnx.load(str(model), load_external_data=False)
    entry["opset"] = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), None)
    # The single output's name as written (the dynamo exporter may not keep ours).
    out_name = m.graph.output[0].name
    del m
    entry["output_name"] = out_name
    refs = {"torch": str(d / "torch_output.npy")}
    try:
        ort_out = _run_ort(model, feeds)
        _save_npy(d / "onnxruntime_output.npy", ort_out)
        refs["onnxruntime"] = str(d / "onnxruntime_output.npy")
        entry["onnxruntime_vs_torch"] = _rel_l2(ref, ort_out)
    except Exception as e:
        entry["onnxruntime_error"] = _err_line(e)
    try:
        ov_out = _run_ov(core, model, feeds)
        _save_npy(d / "openvino_output.npy", ov_out)
        refs["openvino"] = str(d / "openvino_output.npy")
        entry["openvino_vs_torch"] = _rel_l2(ref, ov_out)
    except Exception as e:
        entry["openvino_error"] = _err_line(e)
    entry["references"] = refs
    try:
        import openvino as ov

        t = time.perf_counter()
        xml = d / "openvino.xml"
        ov.save_model(ov.convert_model(str(model)), str(xml), compress_to_fp16=False)
        entry["openvino_xml"] = str(xml)
        entry["openvino_convert_seconds"] = round(time.perf_counter() - t, 1)
    except Exception as e:
        entry["openvino_convert_error"] = _err_line(e)
    entry_path.write_text(json.dumps(entry, indent=1))
    return entry


def make(out: Path, names: list[str]) -> None:
    # The result lines go to the original stdout; everything else (the
    # TorchScript exporter prints whole graphs when it fails, from C++ too)
    # goes to stderr, so the caller reads clean JSON lines.
    results = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import openvino as ov
    import torch

    torch.set_num_threads(1)
    core = ov.Core()
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        for kind in EXPORTS:
            t = time.perf_counter()
            try:
                entry = make_one(name, kind, out, core)
            except Exception as e:  # building the torch model itself failed
                entry = {"name": name, "export": kind, "status": "build_failed", "error": _err_line(e)}
            if not entry.get("reused"):
                entry["make_seconds"] = round(time.perf_counter() - t, 1)
                entry_path = out / name / kind / "entry.json"
                if entry_path.exists():
                    # Kept, so a later run that reuses the export can still say what it cost.
                    entry_path.write_text(json.dumps(entry, indent=1))
            print(json.dumps(entry), file=results, flush=True)


_SUB_BYTE_BITS = {"INT4": 4, "UINT4": 4, "FLOAT4E2M1": 4, "INT2": 2, "UINT2": 2}


def tensor_bytes(t) -> int:
    import onnx

    dtype = onnx.TensorProto.DataType.Name(t.data_type)
    numel = int(np.prod(t.dims, dtype=np.int64)) if len(t.dims) else 1
    if dtype in _SUB_BYTE_BITS:
        return (numel * _SUB_BYTE_BITS[dtype] + 7) // 8
    if dtype == "STRING":
        return sum(len(s) for s in t.string_data)
    return numel * onnx.helper.tensor_dtype_to_np_dtype(t.data_type).itemsize


def weight_bytes(path: str) -> dict:
    import onnx

    m = onnx.load(path, load_external_data=False)
    seen: dict[str, int] = {}

    def walk(g):
        for t in g.initializer:
            seen.setdefault(t.name, tensor_bytes(t))
        for n in g.node:
            for a in n.attribute:
                if n.op_type == "Constant" and a.name == "value":
                    seen.setdefault(n.output[0], tensor_bytes(a.t))
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                elif a.type == onnx.AttributeProto.GRAPHS:
                    for sg in a.graphs:
                        walk(sg)

    walk(m.graph)
    by_dtype: dict[str, int] = {}
    for t in m.graph.initializer:
        k = onnx.TensorProto.DataType.Name(t.data_type)
        by_dtype[k] = by_dtype.get(k, 0) + tensor_bytes(t)
    return {"path": path, "bytes": sum(seen.values()), "tensors": len(seen),
            "initializer_entries": len(m.graph.initializer), "by_dtype": by_dtype}


def main() -> None:
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        names = list(MODELS)
        if len(sys.argv) >= 5 and sys.argv[3] == "--models":
            names = [n for n in sys.argv[4].split(",") if n]
            unknown = [n for n in names if n not in MODELS]
            if unknown:
                sys.exit(f"unknown models {unknown}; known: {', '.join(MODELS)}")
        make(Path(sys.argv[2]), names)
    elif len(sys.argv) >= 2 and sys.argv[1] == "sizes":
        for path in sys.argv[2:]:
            try:
                print(json.dumps(weight_bytes(path)), flush=True)
            except Exception as e:
                print(json.dumps({"path": path, "error": _err_line(e)}), flush=True)
    elif len(sys.argv) >= 2 and sys.argv[1] == "list":
        print(json.dumps({n: w for n, (w, _) in MODELS.items()}))
    else:
        sys.exit("usage: make_real_models.py make OUT_DIR [--models a,b] | sizes FILE... | list")


if __name__ == "__main__":
    main()
