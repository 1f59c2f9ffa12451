"""The exceptions of model_convert, one per failure kind of the converter.

The kinds, messages and exit codes are the command line's (``convert::report``);
a ``KeyboardInterrupt`` during a call is re-raised as is, after the work stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional

if TYPE_CHECKING:
    from ._report import Report


class ConvertError(Exception):
    """A conversion, inspection, verification or run failed; ``str()`` is the command line's one-line message."""

    kind: str
    exit_code: int
    message: str
    report: Optional["Report"]

    def __init__(self, message: str, *, kind: str = "other", exit_code: int = 6, report: Optional["Report"] = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.exit_code = exit_code
        self.report = report

    def __str__(self) -> str:
        return self.message


class UsageError(ConvertError, ValueError):
    """Bad arguments or options (exit code 2): an unknown format name, a bad value."""


class UnsupportedOpsError(ConvertError):
    """The model uses ops the reader or writer cannot handle (exit code 3); ``ops`` lists them."""

    ops: List[Dict[str, Any]]

    def __init__(self, message: str, *, ops: List[Dict[str, Any]], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.ops = ops

    @property
    def op_names(self) -> List[str]:
        """The unsupported op types, ``domain::op`` outside the default ONNX domain."""
        return [o["op"] if o["domain"] == "ai.onnx" else f"{o['domain']}::{o['op']}" for o in self.ops]


class MalformedInputError(ConvertError):
    """An input file is not valid for its format, or its graph is invalid (exit code 4)."""


class ConvertIOError(ConvertError, OSError):
    """A file or folder could not be read or written (exit code 5)."""


class VerificationError(ConvertError):
    """An output differs beyond the tolerance (exit code 1); ``report`` holds every row."""

    report: "Report"


_CLASSES = {
    "verification": VerificationError,
    "usage": UsageError,
    "unsupported_ops": UnsupportedOpsError,
    "malformed": MalformedInputError,
    "io": ConvertIOError,
}


for _cls in (ConvertError, UsageError, UnsupportedOpsError, MalformedInputError, ConvertIOError, VerificationError):
    _cls.__module__ = "model_convert"


def error_of(report: "Report") -> ConvertError:
    """The exception of a failed report (its ``error`` member)."""
    err = report.error or {"kind": "other", "message": "unknown error", "exit_code": 6, "unsupported_ops": []}
    cls = _CLASSES.get(err["kind"], ConvertError)
    kw: Dict[str, Any] = {"kind": err["kind"], "exit_code": err["exit_code"], "report": report}
    if cls is UnsupportedOpsError:
        return UnsupportedOpsError(err["message"], ops=list(err["unsupported_ops"]), **kw)
    return cls(err["message"], **kw)
