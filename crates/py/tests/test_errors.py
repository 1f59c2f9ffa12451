"""Every exception class, its attributes and the command line's one-line messages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from onnx import TensorProto, helper

import model_convert as mc


def unsupported_model() -> bytes:
    g = helper.make_graph(
        [helper.make_node("FrobnicateA", ["x"], ["t"], domain="com.example"), helper.make_node("Relu", ["t"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    m.ir_version = 8
    return m.SerializeToString()


def test_hierarchy() -> None:
    for cls in (mc.UsageError, mc.UnsupportedOpsError, mc.MalformedInputError, mc.ConvertIOError, mc.VerificationError):
        assert issubclass(cls, mc.ConvertError) and issubclass(cls, Exception)
    assert issubclass(mc.ConvertIOError, OSError)
    assert issubclass(mc.UsageError, ValueError)


def test_missing_input_is_an_io_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(mc.ConvertIOError) as e:
        mc.convert(missing, tmp_path / "out.xml")
    assert isinstance(e.value, OSError)
    assert str(e.value) == f"cannot convert {missing} to {tmp_path / 'out.xml'}: {missing}: no such file or directory"
    assert e.value.exit_code == 5 and e.value.kind == "io"
    assert e.value.report is not None and not e.value.report.ok


def test_malformed_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is no protobuf \xff\xff\xff")
    with pytest.raises(mc.MalformedInputError) as e:
        mc.inspect(bad)
    assert e.value.exit_code == 4 and str(e.value).startswith(f"cannot read {bad}: "), str(e.value)
    assert "\n" not in str(e.value)


def test_unsupported_ops_carry_the_list(tmp_path: Path) -> None:
    with pytest.raises(mc.UnsupportedOpsError) as e:
        mc.convert(unsupported_model(), tmp_path / "out.xml")
    assert e.value.exit_code == 3
    ops = e.value.ops
    assert [(o["op"], o["domain"], o["count"]) for o in ops] == [("FrobnicateA", "com.example", 1)], ops
    assert e.value.op_names == ["com.example::FrobnicateA"]
    assert "FrobnicateA" in str(e.value)
    assert not (tmp_path / "out.xml").exists()


def test_usage_errors(mlp: Path, tmp_path: Path) -> None:
    with pytest.raises(mc.UsageError) as e:
        mc.convert(mlp, tmp_path / "out.xyz")
    assert e.value.exit_code == 2
    with pytest.raises(mc.UsageError):
        mc.convert(mlp, tmp_path / "out.onnx", prune_channels=1.5)
    with pytest.raises(mc.UsageError):
        mc.convert(mlp, tmp_path / "out.onnx", quantize="int3")
    # Found once the writer is known: an option it does not read is refused.
    with pytest.raises(mc.UsageError, match="-O bogus: not an option of the openvino writer"):
        mc.convert(mlp, tmp_path / "out.xml", export_options={"bogus": "1"})
    with pytest.raises(mc.UsageError, match="needs calibration data"):
        mc.convert(mlp, tmp_path / "out.onnx", quantize="int8-static")
    assert not os.listdir(tmp_path)


def test_unknown_keywords_are_type_errors(mlp: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="'colour', 'flavour'"):
        mc.convert(mlp, tmp_path / "o.onnx", colour=1, flavour=2)  # type: ignore[arg-type]
    # Flags with a named parameter are not options.
    with pytest.raises(TypeError, match="'to'"):
        mc.convert(mlp, tmp_path / "o.onnx", to="onnx")
    assert not os.listdir(tmp_path)


def test_verification_error_carries_the_report(mlp: Path, tmp_path: Path) -> None:
    q = tmp_path / "q.onnx"
    mc.convert(mlp, q, quantize="int4", group_size=16)
    with pytest.raises(mc.VerificationError) as e:
        mc.verify(mlp, q, tolerance=1e-9)
    assert e.value.exit_code == 1
    r = e.value.report
    assert r.verification is not None and not r.verification.passed
    assert r.verification.outputs[0].rel_l2 is not None and r.verification.outputs[0].rel_l2 > 1e-9
    assert "FAIL" in str(r)


def test_bad_source_type(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        mc.convert(12345, tmp_path / "o.onnx")


def test_run_with_an_unknown_input(mlp: Path) -> None:
    import numpy as np

    with pytest.raises(mc.UsageError, match="no input 'nope'"):
        mc.run(mlp, {"nope": np.zeros(3, np.float32)})
