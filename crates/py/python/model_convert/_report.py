"""Typed views of the converter's JSON documents (``docs/report.schema.json``).

The documents are made in Rust (``convert::report``); these classes only give
their main fields attributes and a readable text form. ``to_dict()`` returns
the whole document.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Union

Dim = Union[int, str, None]


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _num(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.3e}"


class ValueDesc:
    """A graph input or output: name, dtype name, shape (ints, symbol names or None)."""

    name: str
    dtype: Optional[str]
    shape: Optional[List[Dim]]
    type: str

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.name = doc["name"]
        self.dtype = doc.get("dtype")
        self.shape = doc.get("shape")
        self.type = doc["type"]

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object this was read from."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return f"ValueDesc({self.name}: {self.type})"


class ModelInfo:
    """What ``inspect`` shows of a model: inputs, outputs, op histogram, parameters, bytes per dtype."""

    path: str
    format: str
    producer: Optional[str]
    opsets: Dict[str, int]
    inputs: List[ValueDesc]
    outputs: List[ValueDesc]
    nodes: int
    ops: Dict[str, int]
    parameters: int
    weight_bytes: int
    by_dtype: Dict[str, Dict[str, int]]
    constant_bytes: int
    stored_bytes: int
    metadata: Dict[str, str]

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.path = doc["path"]
        self.format = doc["format"]
        self.producer = doc.get("producer")
        self.opsets = dict(doc["opsets"])
        self.inputs = [ValueDesc(v) for v in doc["inputs"]]
        self.outputs = [ValueDesc(v) for v in doc["outputs"]]
        self.nodes = doc["nodes"]
        self.ops = dict(doc["ops"])
        self.parameters = doc["parameters"]
        self.weight_bytes = doc["weight_bytes"]
        self.by_dtype = {k: dict(v) for k, v in doc["by_dtype"].items()}
        self.constant_bytes = doc["constant_bytes"]
        self.stored_bytes = doc["stored_bytes"]
        self.metadata = dict(doc["metadata"])

    def to_dict(self) -> Dict[str, Any]:
        """The JSON document (``input``/``output`` member of a report)."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return (
            f"ModelInfo({self.path!r}, format={self.format!r}, nodes={self.nodes}, "
            f"parameters={self.parameters}, weight_bytes={self.weight_bytes})"
        )

    def __str__(self) -> str:
        lines = [f"{self.path} ({self.format}" + (f", {self.producer})" if self.producer else ")")]
        lines += [f"  input  {v.name}: {v.type}" for v in self.inputs]
        lines += [f"  output {v.name}: {v.type}" for v in self.outputs]
        ops = ", ".join(f"{op} {n}" for op, n in sorted(self.ops.items(), key=lambda kv: (-kv[1], kv[0])))
        lines.append(f"  {self.nodes} nodes: {ops}")
        dtypes = ", ".join(f"{d} {_bytes(v['bytes'])}" for d, v in self.by_dtype.items())
        lines.append(f"  {self.parameters} parameters, {_bytes(self.weight_bytes)} of weights" + (f" ({dtypes})" if dtypes else ""))
        return "\n".join(lines)


class OutputRow:
    """One output's comparison: max_abs, rel_l2, cosine, SQNR (None when infinite), top-1 agreement."""

    name: str
    max_abs: Optional[float]
    rel_l2: Optional[float]
    cosine: Optional[float]
    sqnr_db: Optional[float]
    top1: Optional[Tuple[int, int]]
    passed: bool
    error: Optional[str]

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.name = doc["name"]
        self.max_abs = doc.get("max_abs")
        self.rel_l2 = doc.get("rel_l2")
        self.cosine = doc.get("cosine")
        self.sqnr_db = doc.get("sqnr_db")
        top1 = doc.get("top1")
        self.top1 = (int(top1[0]), int(top1[1])) if top1 is not None else None
        self.passed = bool(doc["pass"])
        self.error = doc.get("error")

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object (its ``pass`` key is :attr:`passed`)."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return f"OutputRow({self.name!r}, rel_l2={_num(self.rel_l2)}, passed={self.passed})"


class Comparison:
    """Two models' outputs compared on the same inputs (verification or pass check)."""

    tolerance: Optional[float]
    passed: bool
    outputs: List[OutputRow]

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.tolerance = doc.get("tolerance")
        self.passed = bool(doc["pass"])
        self.outputs = [OutputRow(r) for r in doc["outputs"]]

    def to_dict(self) -> Dict[str, Any]:
        """The JSON object."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return f"Comparison(passed={self.passed}, outputs={len(self.outputs)})"

    def table(self) -> str:
        """One line per output, as the command line prints it."""
        width = max([6] + [len(r.name) for r in self.outputs])
        lines = [f"  {'output':<{width}}  {'max_abs':>9}  {'rel_l2':>9}  {'cosine':>9}  {'sqnr_dB':>8}  {'top-1':>9}"]
        for r in self.outputs:
            if r.error is not None:
                lines.append(f"  {r.name:<{width}}  cannot compare: {r.error}  FAIL")
                continue
            sqnr = "inf" if r.sqnr_db is None else f"{r.sqnr_db:.1f}"
            cosine = "-" if r.cosine is None else f"{r.cosine:.6f}"
            top1 = "-" if r.top1 is None else f"{r.top1[0]}/{r.top1[1]}"
            fail = "" if r.passed else "  FAIL"
            lines.append(
                f"  {r.name:<{width}}  {_num(r.max_abs):>9}  {_num(r.rel_l2):>9}  {cosine:>9}  {sqnr:>8}  {top1:>9}{fail}"
            )
        return "\n".join(lines)


class Report:
    """The report of a conversion or verification: the models, files, passes, comparisons, timings."""

    ok: bool
    command: str
    version: str
    input: Optional[ModelInfo]
    output: Optional[ModelInfo]
    files: List[Tuple[str, int]]
    passes: List[Dict[str, Any]]
    pass_check: Optional[Comparison]
    warnings: List[str]
    verification: Optional[Comparison]
    timings: Dict[str, Optional[float]]
    error: Optional[Dict[str, Any]]

    def __init__(self, doc: Dict[str, Any]) -> None:
        self._doc = doc
        self.ok = bool(doc["ok"])
        self.command = doc["command"]
        self.version = doc["tool"]["version"]
        self.input = ModelInfo(doc["input"]) if doc.get("input") else None
        self.output = ModelInfo(doc["output"]) if doc.get("output") else None
        self.files = [(f["path"], int(f["bytes"])) for f in doc["files"]]
        self.passes = list(doc["passes"])
        self.pass_check = Comparison(doc["pass_check"]) if doc.get("pass_check") else None
        self.warnings = list(doc.get("warnings", []))
        self.verification = Comparison(doc["verification"]) if doc.get("verification") else None
        self.timings = dict(doc["timings"])
        self.error = doc.get("error")

    @property
    def bytes_written(self) -> int:
        """Total size of the files written."""
        return sum(n for _, n in self.files)

    def to_dict(self) -> Dict[str, Any]:
        """The whole JSON document (``docs/report.schema.json``)."""
        return dict(self._doc)

    def __repr__(self) -> str:
        return f"Report(command={self.command!r}, ok={self.ok}, files={len(self.files)})"

    def __str__(self) -> str:
        lines: List[str] = []
        if self.command == "convert":
            src = f"{self.input.path} ({self.input.format})" if self.input else "input"
            out = self.output
            if out is not None:
                lines.append(
                    f"{src} -> {out.path} ({out.format}): {out.nodes} nodes, {out.parameters} parameters, "
                    f"{_bytes(self.bytes_written)} written to {len(self.files)} file(s) in {self.timings['total']:.2f} s"
                )
        elif self.input is not None and self.output is not None:
            lines.append(f"{self.input.path} ({self.input.format}) vs {self.output.path} ({self.output.format})")
        for p in self.passes:
            for line in p.get("lines", []):
                lines.append(f"{p['pass']}: {line}")
        if self.pass_check is not None:
            lines.append("effect of the passes on the outputs (model before vs after, same inputs):")
            lines.append(self.pass_check.table())
        for w in self.warnings:
            lines.append(f"warning: {w}")
        if self.verification is not None:
            v = self.verification
            verdict = "pass" if v.passed else "FAIL"
            lines.append(f"verification: {verdict} (rel. L2 tolerance {v.tolerance})")
            lines.append(v.table())
        if self.error is not None:
            lines.append(f"error: {self.error['message']}")
        return "\n".join(lines)
