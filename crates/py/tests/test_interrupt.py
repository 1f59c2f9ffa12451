"""Ctrl-C during a conversion: KeyboardInterrupt, no output and no temporary file left."""

from __future__ import annotations

import _thread
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import model_convert as mc


def big_model(path: Path, mib: int = 200) -> None:
    """A MatMul chain with about `mib` MiB of f32 weights (16 weights of 3.1 M elements)."""
    n, rng = 1024, np.random.default_rng(0)
    count = mib * (1 << 20) // (4 * n * n)
    nodes, inits, prev = [], [], "x"
    for i in range(count):
        w = rng.standard_normal((n, n), dtype=np.float32)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"]))
        prev = f"h{i}"
    g = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, n])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, n])],
        initializer=inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, os.fspath(path))


@pytest.mark.parametrize("dst,quantize", [("big.xml", "int8"), ("big_q.onnx", "int8")])
def test_keyboard_interrupt_leaves_no_output(tmp_path: Path, dst: str, quantize: str) -> None:
    src = tmp_path / "src" / "big.onnx"
    src.parent.mkdir()
    big_model(src)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # A shell without job control starts background commands with SIGINT
    # ignored, and then interrupt_main does nothing: install Python's
    # handler for the test, as an interactive session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            mc.convert(src, out_dir / dst, quantize=quantize, no_pass_check=True)
            # The conversion was faster than the timer: wait for the interrupt to fail the test clearly.
            time.sleep(5)
            pytest.fail("the conversion ended before the interrupt")
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
        src.unlink()  # 200 MiB: not kept among pytest's last runs
    elapsed = time.monotonic() - start
    assert os.listdir(out_dir) == [], "no output and no temporary file"
    assert elapsed < 60, elapsed
