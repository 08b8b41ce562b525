"""Edge TPU: readiness check, compiler and delegate, each used only where it is really present.

``readiness(flatbuffer)`` names every reason a TFLite model would not map fully to an Edge TPU,
following Coral's model requirements (coral.ai/docs/edgetpu/models-intro): tensors must be 8-bit
quantized (int32 biases and shape operands excepted), shapes fixed at compile time, tensors of more
than three dimensions may have a size > 1 only in their three innermost dimensions, and every op
must be in the Edge TPU's supported set. ``compile_model`` runs ``edgetpu_compiler`` only when it is
on PATH; ``load_delegate`` loads ``libedgetpu`` only when it loads. Otherwise each returns the reason
it could not, for the benchmark to record as a skipped row.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "COMPILER",
    "SUPPORTED_OPS",
    "Compiled",
    "Readiness",
    "compile_model",
    "delegate_library",
    "load_delegate",
    "readiness",
]

COMPILER = "edgetpu_compiler"

#: TFLite builtin ops the Edge TPU runs (Coral's "Supported operations" table, in TFLite op names).
SUPPORTED_OPS = frozenset(
    {
        "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "EXPAND_DIMS",
        "FULLY_CONNECTED", "L2_NORMALIZATION", "LOGISTIC", "LSTM", "UNIDIRECTIONAL_SEQUENCE_LSTM",
        "MAXIMUM", "MAX_POOL_2D", "MEAN", "MINIMUM", "MUL", "PACK", "PAD", "PRELU", "QUANTIZE",
        "REDUCE_MAX", "REDUCE_MIN", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR", "RSQRT", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SQUEEZE",
        "STRIDED_SLICE", "SUB", "SUM", "SQUARED_DIFFERENCE", "TANH", "TRANSPOSE", "TRANSPOSE_CONV",
    }
)
# Operand positions that are parameters, not activations: (op, input position) -> allowed dtypes.
_PARAM_OPERANDS = {
    ("CONV_2D", 2): (np.int32,),
    ("DEPTHWISE_CONV_2D", 2): (np.int32,),
    ("FULLY_CONNECTED", 2): (np.int32,),
    ("TRANSPOSE_CONV", 3): (np.int32,),
    ("TRANSPOSE_CONV", 0): (np.int32,),
    ("RESHAPE", 1): (np.int32, np.int64),
    ("PAD", 1): (np.int32, np.int64),
    ("MEAN", 1): (np.int32,),
    ("SUM", 1): (np.int32,),
    ("REDUCE_MAX", 1): (np.int32,),
    ("REDUCE_MIN", 1): (np.int32,),
    ("EXPAND_DIMS", 1): (np.int32, np.int64),
    ("STRIDED_SLICE", 1): (np.int32,),
    ("STRIDED_SLICE", 2): (np.int32,),
    ("STRIDED_SLICE", 3): (np.int32,),
    ("SLICE", 1): (np.int32,),
    ("SLICE", 2): (np.int32,),
    ("TRANSPOSE", 1): (np.int32,),
    ("SPLIT", 0): (np.int32,),
    ("RESIZE_BILINEAR", 1): (np.int32,),
    ("RESIZE_NEAREST_NEIGHBOR", 1): (np.int32,),
}
_EIGHT_BIT = (np.int8, np.uint8)


@dataclass
class Readiness:
    """Why a model would not map fully to an Edge TPU; ``ready`` when there is no reason."""

    reasons: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.reasons

    def __str__(self) -> str:
        if self.ready:
            return "ready for the Edge TPU"
        return "not fully Edge TPU-mappable: " + "; ".join(self.reasons)


def readiness(model: bytes | str | os.PathLike) -> Readiness:
    """Check a TFLite model (flatbuffer bytes or path) against the Edge TPU's requirements."""
    from ai_edge_litert.interpreter import OpResolverType

    from signbench.deploy.runtime import interpreter

    # Without the default (XNNPACK) delegate, so the graph shows the model's own ops.
    interp = interpreter(
        model, num_threads=1, op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    )
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # noqa: SLF001 - LiteRT's only public view of the op graph
    result = Readiness(ops=[op["op_name"] for op in ops])

    unsupported = sorted({op["op_name"] for op in ops} - SUPPORTED_OPS)
    for name in unsupported:
        result.reasons.append(f"unsupported op {name}")

    param_ok: dict[int, tuple] = {}
    used: set[int] = set()
    produced: set[int] = set()
    for op in ops:
        for pos, idx in enumerate(op["inputs"]):
            if idx < 0:
                continue
            used.add(int(idx))
            allowed = _PARAM_OPERANDS.get((op["op_name"], pos))
            if allowed:
                param_ok[int(idx)] = allowed
        produced.update(int(i) for i in op["outputs"] if i >= 0)
    graph_inputs = {int(d["index"]) for d in interp.get_input_details()}
    produced |= graph_inputs | {int(d["index"]) for d in interp.get_output_details()}
    used |= produced

    for idx in sorted(used):
        t = tensors.get(idx)
        if t is None:
            continue
        dtype = np.dtype(t["dtype"]).type
        name = t["name"] or f"#{idx}"
        if dtype not in _EIGHT_BIT and dtype not in param_ok.get(idx, ()):
            result.reasons.append(f"non-int8 tensor {name} ({np.dtype(dtype).name})")
        sig = [int(s) for s in t.get("shape_signature", t["shape"])]
        if any(s < 0 for s in sig):
            result.reasons.append(f"dynamic shape {sig} of tensor {name}")
        elif idx in produced and len(sig) > 3 and any(s > 1 for s in sig[:-3]):
            # Activations only: constant weights (e.g. a 4-D conv kernel) are laid out by the compiler.
            result.reasons.append(
                f"tensor {name} has {len(sig)} dimensions with size > 1 outside the 3 innermost {sig}"
            )
    return result


@dataclass
class Compiled:
    """The outcome of ``compile_model``: the compiled path, or why there is none."""

    path: Path | None
    skipped_reason: str | None = None
    log: str = ""


def compile_model(tflite_path: str | os.PathLike, out_dir: str | os.PathLike, *, timeout: float = 600) -> Compiled:
    """Run ``edgetpu_compiler`` on ``tflite_path`` when it is on PATH; else say why not."""
    exe = shutil.which(COMPILER)
    if exe is None:
        return Compiled(None, f"{COMPILER} not found on PATH (Coral's compiler runs on x86-64 Linux only)")
    tflite_path = Path(tflite_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [exe, "-s", "-o", str(out_dir), str(tflite_path)], capture_output=True, text=True, timeout=timeout
    )
    log = proc.stdout + proc.stderr
    compiled = out_dir / f"{tflite_path.stem}_edgetpu.tflite"
    if proc.returncode != 0 or not compiled.is_file():
        raise RuntimeError(f"{COMPILER} failed on {tflite_path} (exit {proc.returncode}): {log.strip()[-2000:]}")
    return Compiled(compiled, None, log)


def delegate_library() -> str:
    """The platform's libedgetpu file name."""
    return {"Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}.get(platform.system(), "libedgetpu.so.1")


def load_delegate(library: str | None = None):
    """``(delegate, None)`` when libedgetpu loads (a device is attached), else ``(None, reason)``."""
    import ctypes

    from ai_edge_litert.interpreter import load_delegate as _load

    library = library or delegate_library()
    try:
        # Probe with ctypes first: a failed LiteRT load_delegate leaves a half-built object whose
        # __del__ raises (an unraisable exception), so only hand it a library that loads.
        ctypes.CDLL(library)
    except OSError as exc:
        return None, f"Edge TPU delegate {library} did not load: {exc}"
    try:
        return _load(library), None
    except (OSError, ValueError, RuntimeError) as exc:
        return None, f"Edge TPU delegate {library} did not load: {exc}"
