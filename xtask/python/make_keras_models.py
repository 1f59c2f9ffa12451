"""Keras applications at real size with random weights, as SavedModels and
frozen GraphDefs, for `cargo xtask interop --models` and `cargo xtask bench`.

    python make_keras_models.py OUT_DIR [NAME ...]

Writes OUT_DIR/<name>/saved_model/ (Keras 3 `model.export`), frozen.pb
(the serving function with variables folded to constants), input_0.npy and
output_0.npy (TensorFlow's own output of the SavedModel's serving_default
signature on that input), and meta.json (input/output names, seconds).
Nothing here downloads weights: `weights=None` gives Keras' own random
initialisation.
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from tensorflow.python.framework.convert_to_constants import (  # noqa: E402
    convert_variables_to_constants_v2,
)

MODELS = {
    "resnet50": lambda: keras.applications.ResNet50(weights=None),
    "mobilenetv3small": lambda: keras.applications.MobileNetV3Small(weights=None),
    "efficientnetv2b0": lambda: keras.applications.EfficientNetV2B0(weights=None),
    "convnexttiny": lambda: keras.applications.ConvNeXtTiny(weights=None),
}


def build(name, out):
    keras.utils.set_random_seed(0)
    model = MODELS[name]()
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    t0 = time.time()
    model.export(os.path.join(d, "saved_model"), verbose=False)
    export_s = time.time() - t0
    x = (np.random.RandomState(0).rand(1, 224, 224, 3) * 255).astype(np.float32)
    loaded = tf.saved_model.load(os.path.join(d, "saved_model"))
    sig = loaded.signatures["serving_default"]
    (in_name,) = list(sig.structured_input_signature[1].keys())
    outs = sig(**{in_name: tf.constant(x)})
    (out_name,) = list(outs.keys())
    y = outs[out_name].numpy()
    if not np.isfinite(y).all() or np.linalg.norm(y) < 1e-12:
        raise SystemExit(f"{name}: degenerate reference output")
    frozen = convert_variables_to_constants_v2(sig)
    with open(os.path.join(d, "frozen.pb"), "wb") as f:
        f.write(frozen.graph.as_graph_def().SerializeToString())
    frozen_in = [t.name for t in frozen.inputs if t.dtype != tf.resource]
    frozen_out = [t.name for t in frozen.outputs]
    np.save(os.path.join(d, "input_0.npy"), x)
    np.save(os.path.join(d, "output_0.npy"), y)
    meta = {
        "input": in_name,
        "output": out_name,
        "frozen_inputs": frozen_in,
        "frozen_outputs": frozen_out,
        "export_seconds": round(export_s, 2),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(name, meta, flush=True)


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    for n in names:
        build(n, out)


if __name__ == "__main__":
    main()
