"""The model_convert API on the repository's fixtures: convert, inspect, verify, quantize, run, formats."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import model_convert as mc

from conftest import FIXTURES


def test_convert_to_openvino_with_verification(mlp: Path, tmp_path: Path) -> None:
    out = tmp_path / "mlp.xml"
    r = mc.convert(mlp, out, verify=True)
    assert r.ok and r.command == "convert" and r.error is None
    assert r.input is not None and r.input.format == "onnx"
    assert r.output is not None and r.output.format == "openvino"
    assert [Path(p).name for p, _ in r.files] == ["mlp.xml", "mlp.bin"]
    assert r.bytes_written == sum(os.path.getsize(p) for p, _ in r.files)
    assert r.verification is not None and r.verification.passed
    row = r.verification.outputs[0]
    assert row.name == "output" and row.passed and row.rel_l2 is not None and row.rel_l2 <= 1e-4
    text = str(r)
    assert "-> " in text and "(openvino)" in text and "verification: pass" in text, text
    assert r.to_dict()["schema_version"] == 1
    assert "Report(" in repr(r)


def test_paths_may_be_str_or_pathlike(mlp: Path, tmp_path: Path) -> None:
    a = mc.convert(str(mlp), str(tmp_path / "a.onnx"))
    b = mc.convert(mlp, tmp_path / "b.onnx")
    assert a.output is not None and b.output is not None and a.output.nodes == b.output.nodes


def test_source_as_bytes_and_model_proto(mlp: Path, tmp_path: Path) -> None:
    r = mc.convert(mlp.read_bytes(), tmp_path / "from_bytes.xml")
    assert r.input is not None and r.input.path == "<bytes>"
    proto = onnx.load(os.fspath(mlp))
    r = mc.convert(proto, tmp_path / "from_proto.onnx")
    assert r.output is not None and r.output.parameters == 26122
    assert mc.inspect(proto).nodes == mc.inspect(mlp).nodes


def test_inspect(mlp: Path) -> None:
    info = mc.inspect(mlp)
    assert info.format == "onnx"
    assert [(v.name, v.dtype, v.shape) for v in info.inputs] == [("input", "f32", [4, 64])]
    assert [v.name for v in info.outputs] == ["output"]
    assert info.ops["Gemm"] == 3 and info.nodes == sum(info.ops.values())
    assert info.parameters == 26122
    assert info.by_dtype["f32"]["bytes"] == info.weight_bytes
    d = info.to_dict()
    assert d["parameters"] == info.parameters and d["inputs"][0]["type"] == "f32[4,64]"
    assert "Gemm 3" in str(info)


def test_inspect_openvino_fixture() -> None:
    info = mc.inspect(FIXTURES / "openvino" / "mlp_fp32" / "model.xml")
    assert info.format == "openvino" and info.parameters > 0


@pytest.mark.parametrize("method", ["int8", "int8-dynamic", "int4", "fp16"])
def test_quantize_reports_the_pass(mlp: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / f"q_{method}.onnx"
    r = mc.convert(mlp, out, quantize=method, group_size=32 if method == "int4" else None)
    names = [p["pass"] for p in r.passes]
    assert names[0] == "simplify" and any(n.startswith("quantize") for n in names), names
    assert r.pass_check is not None and r.pass_check.tolerance is None
    sqnr = r.pass_check.outputs[0].sqnr_db
    assert sqnr is not None and sqnr > 15, sqnr
    assert r.output is not None and r.output.weight_bytes < mc.inspect(mlp).weight_bytes
    assert "quantize" in str(r)


def test_quantize_options_map_to_flags(mlp: Path, tmp_path: Path) -> None:
    r = mc.convert(mlp, tmp_path / "q.onnx", quantize="int4", group_size=16, asymmetric=True, simplify=False)
    assert [p["pass"] for p in r.passes][0].startswith("quantize")
    assert r.output is not None and "u4" in r.output.by_dtype, r.output.by_dtype
    r = mc.convert(mlp, tmp_path / "t.onnx", export_options={"tensor-encoding": "typed"}, no_pass_check=True)
    assert r.ok


def test_pruning(mlp: Path, tmp_path: Path) -> None:
    r = mc.convert(mlp, tmp_path / "p.onnx", prune_channels=0.25)
    assert r.output is not None and r.output.parameters < 26122
    r = mc.convert(mlp, tmp_path / "m.onnx", prune_magnitude=0.5)
    assert any(p["pass"] == "prune-magnitude" for p in r.passes)


def test_verify_two_models(mlp: Path, tmp_path: Path) -> None:
    xml = tmp_path / "mlp.xml"
    mc.convert(mlp, xml)
    x = np.random.default_rng(1).standard_normal((4, 64)).astype(np.float32)
    r = mc.verify(mlp, xml, {"input": x})
    assert r.command == "verify" and r.ok
    assert r.input is not None and r.output is not None and r.output.format == "openvino"
    assert r.verification is not None and r.verification.outputs[0].sqnr_db is None  # identical: infinite SQNR


def test_formats() -> None:
    f = mc.formats()
    for name in ("onnx", "openvino", "safetensors", "tf", "torchscript"):
        assert name in f.read and name in f.write
    assert {"quantize", "simplify", "prune-channels", "prune-magnitude"} <= set(f.passes)
    assert "onnx" in str(f) and f.to_dict()["formats"]


def test_run_matches_onnxruntime_and_openvino(mlp: Path, tmp_path: Path) -> None:
    import onnxruntime as ort
    import openvino as ov

    x = np.random.default_rng(2).standard_normal((4, 64)).astype(np.float32)
    ours = mc.run(mlp, {"input": x})["output"]
    assert ours.dtype == np.float32 and ours.shape == (4, 10)
    sess = ort.InferenceSession(os.fspath(mlp), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(ours, sess.run(None, {"input": x})[0], rtol=1e-5, atol=1e-6)

    xml = tmp_path / "mlp.xml"
    mc.convert(mlp, xml)
    # f32 explicitly: OpenVINO's CPU plugin runs bf16 by default where the CPU has it.
    compiled = ov.Core().compile_model(os.fspath(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    theirs = compiled({"input": x})[compiled.outputs[0]]
    np.testing.assert_allclose(mc.run(xml, {"input": x})["output"], theirs, rtol=1e-4, atol=1e-5)

    q = tmp_path / "mlp_int8.onnx"
    mc.convert(mlp, q, quantize="int8-dynamic")
    sess = ort.InferenceSession(os.fspath(q), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(mc.run(q, {"input": x})["output"], sess.run(None, {"input": x})[0], rtol=1e-3, atol=1e-3)


def test_run_keeps_dtypes(tmp_path: Path) -> None:
    import onnxruntime as ort

    cases = [
        ("Add", TensorProto.INT64, np.int64),
        ("Add", TensorProto.INT32, np.int32),
        ("Add", TensorProto.DOUBLE, np.float64),
        ("Add", TensorProto.FLOAT16, np.float16),
        ("Add", TensorProto.UINT8, np.uint8),
        ("And", TensorProto.BOOL, np.bool_),
    ]
    rng = np.random.default_rng(3)
    for op, et, dt in cases:
        g = helper.make_graph(
            [helper.make_node(op, ["a", "b"], ["y"])],
            "g",
            [helper.make_tensor_value_info("a", et, [3, 5]), helper.make_tensor_value_info("b", et, [3, 5])],
            [helper.make_tensor_value_info("y", et, [3, 5])],
        )
        model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        a = (rng.integers(0, 2, (3, 5)) if dt is np.bool_ else rng.integers(0, 50, (3, 5))).astype(dt)
        b = (rng.integers(0, 2, (3, 5)) if dt is np.bool_ else rng.integers(0, 50, (3, 5))).astype(dt)
        y = mc.run(model, {"a": a, "b": b})["y"]
        assert y.dtype == dt, (op, y.dtype)
        ref = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"a": a, "b": b})[0]
        np.testing.assert_array_equal(y, ref)


def test_run_inputs_not_given_are_random(mlp: Path) -> None:
    a = mc.run(mlp)
    b = mc.run(mlp, seed=0)
    np.testing.assert_array_equal(a["output"], b["output"])


def test_quickstart_example_runs(root: Path, tmp_path: Path) -> None:
    import runpy
    import contextlib

    cwd = os.getcwd()
    os.chdir(root)
    try:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            runpy.run_path(os.fspath(root / "examples" / "python_quickstart.py"), run_name="__main__")
    finally:
        os.chdir(cwd)
    assert "verification: pass" in out.getvalue(), out.getvalue()
