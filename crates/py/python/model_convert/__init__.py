"""model_convert: convert, compress and verify neural-network models from Python.

>>> import model_convert as mc
>>> report = mc.convert("model.onnx", "model.xml", verify=True)   # doctest: +SKIP
>>> print(report)                                                 # doctest: +SKIP

The work is done by the converter's Rust library (the same as the ``convert``
command line, whose console script here is ``model-convert``). Calls release
the GIL, and Ctrl-C (``KeyboardInterrupt``) stops a conversion without leaving
a partial output. NumPy is needed only for :func:`run` and array inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Union

from . import _native
from ._errors import (
    ConvertError,
    ConvertIOError,
    MalformedInputError,
    UnsupportedOpsError,
    UsageError,
    VerificationError,
    error_of,
)
from ._report import Comparison, ModelInfo, OutputRow, Report, ValueDesc

if TYPE_CHECKING:
    import numpy

__all__ = [
    "convert",
    "inspect",
    "verify",
    "run",
    "formats",
    "Formats",
    "Report",
    "ModelInfo",
    "ValueDesc",
    "Comparison",
    "OutputRow",
    "ConvertError",
    "UsageError",
    "UnsupportedOpsError",
    "MalformedInputError",
    "ConvertIOError",
    "VerificationError",
    "__version__",
]

__version__: str = _native.version()

PathLike = Union[str, "os.PathLike[str]"]
"""A file system path."""

Source = Union[str, "os.PathLike[str]", bytes, Any]
"""A model: a path, the bytes of an ONNX model, or an ``onnx.ModelProto``."""

# Flags with a named parameter of convert(), or that control the command
# line's own output, are not accepted as **options.
_NAMED = {
    "from", "to", "quantize", "prune-channels", "prune-magnitude", "simplify", "no-simplify",
    "verify", "tolerance", "external-data", "no-external-data",
    "help", "version", "list-formats", "json", "report", "verbose", "quiet",
}


def _report(text: str) -> Report:
    return Report(json.loads(text))


def _call(fn: Any, *args: Any, **kw: Any) -> str:
    """Calls a native function, turning its failure report into the exception of its kind."""
    try:
        result: str = fn(*args, **kw)
    except _native.NativeError as e:
        raise error_of(_report(e.args[0])) from None
    return result


@contextlib.contextmanager
def _model_path(src: Source) -> Iterator[str]:
    """A path to the model: the path given, or a temporary ``.onnx`` file holding its bytes."""
    if isinstance(src, (str, os.PathLike)):
        yield os.fspath(src)
        return
    if isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "SerializeToString"):
        # Serialized once; the importer maps the file like any other.
        data = src.SerializeToString()
    else:
        raise TypeError(f"a model is a path, bytes of an ONNX model or an onnx.ModelProto, not {type(src).__name__}")
    with tempfile.TemporaryDirectory(prefix="model-convert-") as d:
        path = os.path.join(d, "model.onnx")
        with open(path, "wb") as f:
            f.write(data)
        yield path


def _flag_value(v: Any) -> str:
    return os.fspath(v) if isinstance(v, os.PathLike) else str(v)


def _option_flags(options: Mapping[str, Any]) -> List[str]:
    """The command-line flags of convert()'s **options; unknown keywords raise TypeError."""
    known = set(_native.conversion_flags()) - _NAMED
    unknown = [k for k in options if k not in ("export_options", "import_options") and k.replace("_", "-") not in known]
    if unknown:
        raise TypeError("convert() got unexpected keyword argument(s): " + ", ".join(repr(k) for k in unknown))
    flags: List[str] = []
    for key, value in options.items():
        if key in ("export_options", "import_options"):
            switch = "-O" if key == "export_options" else "-I"
            for k, v in dict(value).items():
                flags += [switch, f"{k}={_flag_value(v)}"]
            continue
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            flags.append(flag)
        elif isinstance(value, (list, tuple)):
            for v in value:
                flags += [flag, _flag_value(v)]
        else:
            flags += [flag, _flag_value(value)]
    return flags


def convert(
    src: Source,
    dst: PathLike,
    *,
    src_format: Optional[str] = None,
    dst_format: Optional[str] = None,
    quantize: Optional[str] = None,
    prune_channels: Optional[float] = None,
    prune_magnitude: Optional[float] = None,
    simplify: Optional[bool] = None,
    verify: bool = False,
    tolerance: float = 1e-4,
    external_data: Optional[bool] = None,
    **options: Any,
) -> Report:
    """Converts ``src`` to ``dst`` (format from the extension unless ``dst_format``) and returns the report.

    ``quantize`` is a method (``int8``, ``int8-dynamic``, ``int8-static``, ``int4``, ``fp16``, ``bf16``);
    ``simplify`` None simplifies whenever a pass runs, True always, False never; ``external_data``
    None writes ONNX external data only past 2 GiB. ``verify`` re-reads the output and compares it
    with the converted model (raising :class:`VerificationError` beyond ``tolerance``, rel. L2).
    ``**options`` are the command line's flags with ``_`` for ``-`` (``group_size=128``,
    ``asymmetric=True``, ``calibration="samples.npz"``, ``weight_method="gptq"``, ``inputs=[...]``),
    plus ``export_options``/``import_options`` dicts for ``-O``/``-I``.
    """
    flags: List[str] = []
    for flag, value in (
        ("--from", src_format),
        ("--to", dst_format),
        ("--quantize", quantize),
        ("--prune-channels", prune_channels),
        ("--prune-magnitude", prune_magnitude),
    ):
        if value is not None:
            flags += [flag, str(value)]
    if simplify is not None:
        flags.append("--simplify" if simplify else "--no-simplify")
    if external_data is not None:
        flags.append("--external-data" if external_data else "--no-external-data")
    if verify:
        flags.append("--verify")
    flags += ["--tolerance", repr(float(tolerance))]
    flags += _option_flags(options)
    with _model_path(src) as path:
        report = _report(_call(_native.convert_model, path, os.fspath(dst), flags))
    if report.input is not None and not isinstance(src, (str, os.PathLike)):
        report.input.path = "<bytes>"
    return report


def inspect(path: Source, *, src_format: Optional[str] = None) -> ModelInfo:
    """A model's inputs and outputs with shapes, op histogram, parameters and bytes per dtype."""
    with _model_path(path) as p:
        return ModelInfo(json.loads(_call(_native.inspect, p, src_format)))


def _npy_inputs(inputs: Optional[Mapping[str, Any]]) -> List[Any]:
    """Named arrays as ``.npy`` images (dtypes are read in Rust, by the converter's .npy reader)."""
    if not inputs:
        return []
    import numpy as np

    out = []
    for name, a in inputs.items():
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
        out.append((name, buf.getvalue()))
    return out


def verify(
    a: Source,
    b: Source,
    inputs: Optional[Mapping[str, "numpy.ndarray"]] = None,
    *,
    tolerance: float = 1e-4,
    seed: int = 0,
) -> Report:
    """Runs both models on the same inputs (``inputs`` by name, the rest seeded random) and compares the outputs.

    Raises :class:`VerificationError` (with the report) when an output differs beyond ``tolerance`` (rel. L2).
    """
    with _model_path(a) as pa, _model_path(b) as pb:
        return _report(_call(_native.verify_models, pa, pb, _npy_inputs(inputs), float(tolerance), seed))


def run(
    model: Source,
    inputs: Optional[Mapping[str, "numpy.ndarray"]] = None,
    *,
    src_format: Optional[str] = None,
    seed: int = 0,
) -> Dict[str, "numpy.ndarray"]:
    """Runs a model with the built-in reference evaluator; inputs not given are seeded random."""
    import numpy as np

    with _model_path(model) as p:
        try:
            outputs = _native.run_model(p, _npy_inputs(inputs), src_format, seed)
        except _native.NativeError as e:
            raise error_of(_report(e.args[0])) from None
    return {name: np.load(io.BytesIO(npy), allow_pickle=False) for name, npy in outputs}


class Formats:
    """What this build reads and writes, and its passes."""

    read: List[str]
    write: List[str]
    passes: List[str]

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.read = [f["name"] for f in doc["formats"] if f["read"]]
        self.write = [f["name"] for f in doc["formats"] if f["write"]]
        self.passes = [p["name"] for p in doc["passes"]]

    def to_dict(self) -> Dict[str, Any]:
        """Every format with its description, extensions and directions, and every pass."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return f"Formats(read={self.read}, write={self.write}, passes={self.passes})"

    def __str__(self) -> str:
        lines = ["formats (import / export):"]
        for f in self._doc["formats"]:
            rw = "read/write" if f["read"] and f["write"] else ("read" if f["read"] else "write")
            exts = " ".join("." + e for e in f["extensions"])
            lines.append(f"  {f['name']:<12} {rw:<10} {exts:<12} {f['description']}")
        lines.append("passes:")
        lines += [f"  {p['name']:<24} {p['description']}" for p in self._doc["passes"]]
        return "\n".join(lines)


def formats() -> Formats:
    """The formats this build can read and write, and the passes it has."""
    return Formats(json.loads(_native.formats()))
