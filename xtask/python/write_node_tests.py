"""Writes onnx's backend node test cases to a folder, one folder per case.

Usage: write_node_tests.py OUT_DIR

Each case gets OUT_DIR/<name>/model.onnx, test_data_set_<i>/input_<j>.pb and
output_<j>.pb (a TensorProto, SequenceProto or OptionalProto by the declared
type of the model's input or output, as onnx's own backend test data writer
`onnx.backend.test.cmd_tools` does) and case.json with the tolerances and
the kind of each input and output. The cases come from
`onnx.backend.test.case.node.collect_testcases`, i.e. from the installed
onnx, not from the data files it ships.

Writing takes a while, so OUT_DIR/.stamp records the onnx version (and this
writer's format version); when it matches, nothing is rewritten.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import warnings

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

# Bump when the layout of what is written changes.
FORMAT = 1


def kind_of(value_info: onnx.ValueInfoProto) -> str:
    """The kind of value a graph input/output holds: tensor, sequence, optional, map, ..."""
    which = value_info.type.WhichOneof("value")
    return {
        "tensor_type": "tensor",
        "sequence_type": "sequence",
        "optional_type": "optional",
        "map_type": "map",
        "sparse_tensor_type": "sparse_tensor",
    }.get(which or "", "tensor")


def serialize(value, value_info: onnx.ValueInfoProto) -> bytes:
    kind = kind_of(value_info)
    name = value_info.name
    if kind == "map":
        return numpy_helper.from_dict(value, name).SerializeToString()
    if kind == "sequence":
        return numpy_helper.from_list(value, name).SerializeToString()
    if kind == "optional":
        return numpy_helper.from_optional(value, name).SerializeToString()
    if isinstance(value, TensorProto):
        return value.SerializeToString()
    return numpy_helper.from_array(value, name).SerializeToString()


def write_case(case, op: str, out: str) -> None:
    os.makedirs(out)
    graph = case.model.graph
    with open(os.path.join(out, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        ds = os.path.join(out, f"test_data_set_{i}")
        os.makedirs(ds)
        for prefix, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, value in enumerate(values):
                with open(os.path.join(ds, f"{prefix}_{j}.pb"), "wb") as f:
                    f.write(serialize(value, infos[j]))
    meta = {
        "name": case.name,
        "op": op,
        "rtol": case.rtol,
        "atol": case.atol,
        "data_sets": len(case.data_sets),
        "inputs": [{"name": v.name, "kind": kind_of(v)} for v in graph.input],
        "outputs": [{"name": v.name, "kind": kind_of(v)} for v in graph.output],
    }
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)


def main() -> int:
    out_dir = sys.argv[1]
    stamp_path = os.path.join(out_dir, ".stamp")
    stamp = f"onnx {onnx.__version__}, format {FORMAT}\n"
    try:
        with open(stamp_path) as f:
            if f.read() == stamp:
                return 0
    except OSError:
        pass

    # Generating the cases evaluates numpy on edge values on purpose
    # (overflowing casts, log(0)); their warnings are noise here.
    warnings.simplefilter("ignore")
    from onnx.backend.test.case.node import collect_testcases

    # Many cases draw their inputs from numpy's global generator; seed it so
    # every machine writes the same data.
    np.random.seed(0)
    cases = collect_testcases(None)
    # A node test is one node: the op it tests. An expanded test
    # (<name>_expanded[_verN]) runs the op's function body instead and
    # tests the op of its base case.
    ops = {c.name: c.model.graph.node[0].op_type for c in cases if len(c.model.graph.node) == 1}
    tmp = out_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for case in cases:
        base = re.sub(r"_expanded(_ver\d+)?$", "", case.name)
        write_case(case, ops.get(base, ""), os.path.join(tmp, case.name))
    with open(os.path.join(tmp, ".stamp"), "w") as f:
        f.write(stamp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    print(f"wrote {len(cases)} onnx {onnx.__version__} node test cases to {out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
