"""Times onnxruntime inference on one thread: bench_onnxruntime.py REPEAT MODEL_DIR...

Prints one JSON line per model: {"model": dir, "median_ms": ..., "min_ms": ...}.
"""
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    repeat = int(sys.argv[1])
    for d in sys.argv[2:]:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(os.path.join(d, "model.onnx"), opts, providers=["CPUExecutionProvider"])
        feeds = {i.name: np.load(os.path.join(d, f"input_{k}.npy")) for k, i in enumerate(sess.get_inputs())}
        sess.run(None, feeds)
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            sess.run(None, feeds)
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(json.dumps({"model": d, "median_ms": times[len(times) // 2], "min_ms": times[0]}), flush=True)


if __name__ == "__main__":
    main()
