"""Runs exported TensorFlow models (SavedModel folders and frozen GraphDefs)
in TensorFlow and compares with reference outputs.

Called with a JSON job list; prints one JSON result per job on stdout. A job:
{"id", "kind": "saved_model" | "frozen", "model", "inputs": {name: .npy},
"outputs": {name: .npy}, "rtol"}. Names are the source model's; they are
mapped the way the exporter names things (signature keys: characters other
than letters, digits and `_` become `_`; node names: characters other than
letters, digits and `_./-` become `_`). Any Python warning raised while
loading or running is reported (the exports should load without one).
"""
import json
import math
import os
import re
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from compare import compare  # noqa: E402


def signature_key(name):
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return "_" + s if not s or s[0].isdigit() else s


def node_name(name):
    s = re.sub(r"[^A-Za-z0-9_./-]", "_", name)
    return "n" + s if not s or not (s[0].isalnum() or s[0] == ".") else s


def fit(value, shape):
    """A reference input reshaped to the declared rank when only the rank
    differs (a scalar stored as [1]): TensorFlow, unlike onnxruntime, does
    not accept it, and a While loop reading it then never stops."""
    if shape is None or len(shape) == value.ndim:
        return value
    if all(d is not None and d >= 0 for d in shape) and int(np.prod(shape)) == value.size:
        return value.reshape(shape)
    return value


def run_saved_model(job, feeds):
    fn = tf.saved_model.load(job["model"]).signatures["serving_default"]
    specs = fn.structured_input_signature[1]
    args = {}
    for k, v in feeds.items():
        spec = specs.get(signature_key(k))
        shape = None if spec is None or spec.shape.rank is None else spec.shape.as_list()
        args[signature_key(k)] = tf.constant(fit(v, shape))
    outs = fn(**args)
    return {k: outs[signature_key(k)].numpy() for k in job["outputs"]}


def run_frozen(job, feeds):
    gd = tf.compat.v1.GraphDef()
    with open(job["model"], "rb") as f:
        gd.ParseFromString(f.read())
    g = tf.Graph()
    with g.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    names = list(job["outputs"])
    def placeholder_shape(name):
        shape = g.get_tensor_by_name(name).shape
        return None if shape.rank is None else shape.as_list()

    with tf.compat.v1.Session(graph=g) as s:
        feed = {node_name(k) + ":0": v for k, v in feeds.items()}
        feed = {k: fit(v, placeholder_shape(k)) for k, v in feed.items()}
        got = s.run([node_name(k) + ":0" for k in names], feed)
    return dict(zip(names, got))


def run(job):
    feeds = {name: np.load(path) for name, path in job["inputs"].items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = (run_saved_model if job["kind"] == "saved_model" else run_frozen)(job, feeds)
    worst = 0.0
    for name, path in job["outputs"].items():
        ok, err, msg = compare(np.asarray(got[name]), np.load(path), job["rtol"])
        worst = max(worst, err)
        if not ok:
            return False, err, f"output {name}: {msg}", len(caught)
    msg = "; ".join(str(w.message).splitlines()[0] for w in caught)
    return True, worst, msg, len(caught)


def main():
    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        try:
            ok, err, msg, nwarn = run(job)
        except Exception as e:  # report, don't stop: every row counts
            ok, err, msg, nwarn = False, float("inf"), f"{type(e).__name__}: {e}".splitlines()[0], 0
        print(json.dumps({"id": job["id"], "ok": ok, "error": err if math.isfinite(err) else None, "warnings": nwarn, "message": msg}), flush=True)


if __name__ == "__main__":
    main()
