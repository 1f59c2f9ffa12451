"""Keras applications through tf2onnx, then through `convert --simplify`:
how many Transposes the transpose-sinking pass leaves, and whether the
outputs stay the same in onnxruntime.

For each of MobileNetV2, ResNet50 and EfficientNetB0 (random weights from a
fixed seed, logits output) this writes under OUT/<model>/:

- `tf2onnx.onnx`: `tf2onnx.convert.from_keras(model, opset=17)` with its
  defaults (tf2onnx's own transpose optimizer included);
- `tf2onnx_raw.onnx`: the same with every tf2onnx optimizer but
  `optimize_transpose`, i.e. the NHWC graph with each Conv and pool wrapped in
  a Transpose pair, as a TensorFlow importer writes it before any layout work;
- `<variant>_simplified.onnx`: each of those through `CONVERT IN OUT --simplify`;

then runs every original and simplified model in onnxruntime (one thread,
graph optimizations off, so each model runs as written) on the same seeded
input and prints, per model and variant: Transpose nodes before -> after,
node counts, max |a - b| (next to max |a|) and relative L2 error
||a - b|| / ||a|| of the logits, and writes `results.json` with the same
figures and the pass report. Nothing here is committed;
OUT defaults to `target/keras_tf2onnx`.

Usage (from the repository root, in a venv with tensorflow-cpu 2.21, keras
3, tf2onnx 1.17, onnx and onnxruntime):

    cargo build -p convert
    python xtask/python/make_keras_tf2onnx.py [--convert PATH] [--out DIR]
        [--models MobileNetV2,ResNet50,EfficientNetB0] [--batch N] [--seed S]

`--convert` defaults to `$CARGO_TARGET_DIR/debug/convert`, else
`target/debug/convert`. Exits non-zero if a conversion fails, a simplified
model has more Transposes than its input, or an output's relative L2 error
exceeds 1e-4.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

OPSET = 17
MODELS = ["MobileNetV2", "ResNet50", "EfficientNetB0"]
REL_LIMIT = 1e-4


def default_convert() -> str:
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    return str(Path(target) / "debug" / "convert")


def build_keras(name: str, seed: int):
    """A keras.applications model with random weights (fixed seed) and a logits output."""
    import keras

    keras.utils.set_random_seed(seed)
    ctor = getattr(keras.applications, name)
    return ctor(weights=None, input_shape=(224, 224, 3), classifier_activation=None)


def to_onnx(model, path: Path, transpose_optimizer: bool) -> None:
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import optimizer

    optimizers = optimizer._get_optimizers().copy()  # the defaults tf2onnx applies
    if not transpose_optimizer:
        del optimizers["optimize_transpose"]
    spec = (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET, output_path=str(path), optimizers=optimizers)


def op_count(path: Path, op: str) -> int:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    return sum(n.op_type == op for n in m.graph.node)


def node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def run_ort(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def simplify(convert: str, src: Path, dst: Path) -> list[str]:
    r = subprocess.run([convert, str(src), str(dst), "--simplify"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{convert} {src} {dst} --simplify failed:\n{r.stderr}")
    return [line for line in (r.stdout + r.stderr).splitlines() if "simplify" in line]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--convert", default=default_convert())
    ap.add_argument("--out", default="target/keras_tf2onnx")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    if not Path(args.convert).is_file():
        print(f"no convert binary at {args.convert}: run `cargo build -p convert` or pass --convert", file=sys.stderr)
        return 2

    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(0.0, 255.0, size=(args.batch, 224, 224, 3)).astype(np.float32)
    results, failed = [], False
    for name in args.models.split(","):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        model = build_keras(name, args.seed)
        for variant, transpose_opt in [("tf2onnx", True), ("tf2onnx_raw", False)]:
            src, dst = d / f"{variant}.onnx", d / f"{variant}_simplified.onnx"
            to_onnx(model, src, transpose_opt)
            t0 = time.perf_counter()
            report = simplify(args.convert, src, dst)
            seconds = time.perf_counter() - t0
            a, b = run_ort(src, x), run_ort(dst, x)
            diff = (a.astype(np.float64) - b.astype(np.float64)).ravel()
            row = {
                "model": name,
                "variant": variant,
                "transposes": [op_count(src, "Transpose"), op_count(dst, "Transpose")],
                "nodes": [node_count(src), node_count(dst)],
                "max_abs": float(np.max(np.abs(diff))),
                "ref_max_abs": float(np.max(np.abs(a))),
                "rel_l2": float(np.linalg.norm(diff) / np.linalg.norm(a.astype(np.float64).ravel())),
                "convert_seconds": round(seconds, 2),
                "report": report,
            }
            results.append(row)
            t = row["transposes"]
            print(
                f"{name:15} {variant:12} transposes {t[0]:3} -> {t[1]:3}  nodes {row['nodes'][0]:4} -> "
                f"{row['nodes'][1]:4}  max abs {row['max_abs']:.3g} (of {row['ref_max_abs']:.3g})  "
                f"rel L2 {row['rel_l2']:.3g}",
                flush=True,
            )
            if t[1] > t[0] or not row["rel_l2"] <= REL_LIMIT:
                failed = True
        del model
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
