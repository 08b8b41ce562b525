"""Model FLOPs per training sample (Keras 3, any backend), the float32 matmul peak of a run and the CPU's
physical limit: the two peaks MFU (model FLOPs utilization) is reported against.

FLOPs count multiply-adds as 2 operations, for the layers that dominate the work: Dense,
Conv1D/2D/3D, DepthwiseConv2D, SeparableConv2D and Conv2DTranspose (element-wise layers, pooling
and normalization are a few percent at most and are left out, so MFU is slightly understated), and
any layer with a ``forward_flops_per_sample()`` method (its own count).
Training FLOPs per sample = forward + weight gradients (1x forward, trainable layers only) + input
gradients (1x forward, only for layers after the first trainable one: nothing flows further back).
For a fully trainable model that is the usual 3x forward.

MFU = achieved FLOP/s (training FLOPs per sample x samples/s) / a peak, and every MFU figure says which:
``mfu`` divides by the run's one measured float32 matmul peak (:class:`PeakMeter`: the best of at least
five :func:`matmul_peak` samples spread over the run, so every row of a run divides by the same number),
``mfu_physical`` by what the CPU could do at most (:func:`physical_peak`, from its flags and clock).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "PeakMeter", "PhysicalPeak", "forward_flops", "matmul_peak", "physical_peak", "physical_peak_here",
    "train_flops_per_sample",
]


def _shape(t) -> tuple:
    return tuple(t.shape)


def _layer_forward(layer) -> float:
    """Forward FLOPs of one layer for one sample (0 for layers not counted)."""
    from keras import layers as L

    try:
        out = _shape(layer.output)
        inp = _shape(layer.input)
    except (AttributeError, ValueError):
        return 0.0
    own = getattr(layer, "forward_flops_per_sample", None)
    if callable(own):  # layers of ours that know their count (signbench.models.fused.ConvReluPool2D)
        return float(own())
    if isinstance(layer, L.Dense):
        units = out[-1]
        rows = math.prod(d for d in out[1:-1] if d)  # Dense on N-D input applies per position
        return 2.0 * inp[-1] * units * rows
    if isinstance(layer, L.SeparableConv2D | L.SeparableConv1D):
        k = math.prod(layer.kernel_size)
        cin = inp[-1]
        spatial = math.prod(out[1:-1])
        mult = layer.depth_multiplier
        return 2.0 * spatial * (k * cin * mult + cin * mult * out[-1])
    if isinstance(layer, L.DepthwiseConv2D | L.DepthwiseConv1D):
        k = math.prod(layer.kernel_size)
        return 2.0 * math.prod(out[1:]) * k
    if isinstance(layer, L.Conv2DTranspose | L.Conv1DTranspose | L.Conv3DTranspose):
        k = math.prod(layer.kernel_size)
        return 2.0 * math.prod(inp[1:-1]) * inp[-1] * k * out[-1]
    if isinstance(layer, L.Conv1D | L.Conv2D | L.Conv3D):
        k = math.prod(layer.kernel_size)
        groups = getattr(layer, "groups", 1) or 1
        return 2.0 * math.prod(out[1:]) * k * inp[-1] / groups
    return 0.0


def _leaf_layers(model) -> list:
    out = []
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:  # nested Sequential / Functional model
            out.extend(_leaf_layers(layer))
        else:
            out.append(layer)
    return out


def forward_flops(model) -> float:
    """Forward-pass FLOPs of ``model`` for one sample."""
    return sum(_layer_forward(layer) for layer in _leaf_layers(model))


def train_flops_per_sample(model) -> float:
    """Training FLOPs for one sample (forward + backward), see the module docstring."""
    total = 0.0
    seen_trainable = False
    for layer in _leaf_layers(model):
        f = _layer_forward(layer)
        trainable = bool(layer.trainable_weights)
        total += f  # forward
        if seen_trainable:
            total += f  # gradient with respect to the layer's input
        if trainable:
            total += f  # gradient with respect to its weights
            seen_trainable = True
    return total


def matmul_peak(n: int = 1024, *, repeats: int = 10, seconds: float = 2.0) -> float:
    """Best float32 n x n matmul rate of the Keras backend here, in FLOP/s (after one warm-up).

    Each timed product is waited for by fetching one element of it (not the whole matrix), so on
    an accelerator with asynchronous dispatch the time is the product's, not a device-to-host copy.
    Whatever precision the backend uses for float32 matmuls by default (TF32 on recent NVIDIA GPUs
    under JAX) is what the models train with too, so MFU compares like with like.
    """
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32))
    b = keras.ops.convert_to_tensor(rng.standard_normal((n, n), dtype=np.float32))

    def one() -> float:
        return float(keras.ops.convert_to_numpy(keras.ops.matmul(a, b)[0, 0]))

    one()  # warm-up (kernel selection, thread pool)
    best = math.inf
    start = time.perf_counter()
    for i in range(repeats):
        t = time.perf_counter()
        one()
        best = min(best, time.perf_counter() - t)
        if i >= 2 and time.perf_counter() - start > seconds:
            break
    return 2.0 * n**3 / best


class PeakMeter:
    """The float32 matmul peak of one run: the best of several :func:`matmul_peak` samples spread over it.

    One measurement moves by tens of percent with whatever else the machine is doing, so MFU figures
    that each divide by their own measurement move with it. A run instead takes samples at its start,
    before each benchmark that reports MFU and, at its end, until it has ``min_samples``; its
    :attr:`peak` is their maximum (the least disturbed showing of what the backend's matmul reaches here),
    and every MFU of the run divides by that one number. :meth:`spread` says how far the samples moved.

    ``measure``: a callable returning one sample in FLOP/s (default: ``matmul_peak(n, repeats=repeats)``).
    """

    def __init__(self, n: int = 1024, *, repeats: int = 10, min_samples: int = 5,
                 measure: Callable[[], float] | None = None):
        self.n = n
        self.repeats = repeats
        self.min_samples = min_samples
        self._measure = measure or (lambda: matmul_peak(n, repeats=repeats))
        self.samples: list[float] = []

    def sample(self) -> float:
        """Measure once more; returns the sample (FLOP/s)."""
        value = float(self._measure())
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"a matmul peak sample must be a positive number of FLOP/s, got {value!r}")
        self.samples.append(value)
        return value

    def fill(self) -> None:
        """Sample until there are at least ``min_samples`` samples."""
        while len(self.samples) < self.min_samples:
            self.sample()

    @property
    def peak(self) -> float:
        """The maximum sample, FLOP/s (ValueError before the first sample)."""
        if not self.samples:
            raise ValueError("no matmul peak sample taken yet")
        return max(self.samples)

    def spread(self) -> dict[str, float]:
        """count, min, median and max of the samples (FLOP/s)."""
        if not self.samples:
            raise ValueError("no matmul peak sample taken yet")
        return {"count": len(self.samples), "min": min(self.samples),
                "median": statistics.median(self.samples), "max": max(self.samples)}

    def as_dict(self) -> dict:
        """What a run stores (its raw JSON): peak, spread, every sample, the matrix size."""
        return {"peak": self.peak, **self.spread(), "samples": list(self.samples), "n": self.n}


#: FMA units per core :func:`physical_peak` assumes (see its docstring).
FMA_UNITS_PER_CORE = 2


@dataclass(frozen=True)
class PhysicalPeak:
    """The CPU's float32 limit and its inputs (:func:`physical_peak`); ``flops`` is None when unknown."""

    cores: int
    fma_units: int
    lanes: int
    mhz: float | None
    mhz_source: str
    vendor: str
    isa: str
    threads_per_core: int | None

    @property
    def flops(self) -> float | None:
        """cores x FMA units x fp32 lanes x 2 FLOP x clock, in FLOP/s; None without a clock."""
        if self.mhz is None:
            return None
        return self.cores * self.fma_units * self.lanes * 2.0 * self.mhz * 1e6

    def note(self) -> str:
        """The formula with this CPU's numbers and every assumption behind it, in words."""
        if self.flops is None:
            head = ("unknown: no clock in /proc/cpuinfo (cpu MHz) or lscpu (CPU max MHz), so no limit is "
                    "derived (none is made up)")
        else:
            head = (f"{self.cores} cores x {self.fma_units} FMA units x {self.lanes} fp32 lanes x 2 FLOP per FMA "
                    f"x {self.mhz:g} MHz ({self.mhz_source}) = {self.flops / 1e9:.4g} GFLOP/s")
        if self.isa == "avx512f" and self.vendor == "AuthenticAMD":
            lanes = ("AMD with avx512f, taken as Zen 4, which runs AVX-512 as two 256-bit halves: 2 x 8 fp32 lanes "
                     "per cycle, not 2 x 16 (a Zen 5 with full 512-bit FMA pipes would be understated 2x)")
        elif self.isa == "avx512f":
            lanes = ("avx512f: two 512-bit FMA units per core, 16 fp32 lanes each (Xeon Gold/Platinum; parts with "
                     "one 512-bit FMA unit are overstated 2x)")
        elif self.isa == "avx2+fma":
            lanes = ("avx2+fma: two 256-bit FMA units per core, 8 fp32 lanes each (Intel since Haswell, AMD Zen 2/3; "
                     "Zen 1's 2 x 128-bit is overstated 2x)")
        else:
            lanes = "no avx2+fma: two 128-bit units, 4 fp32 lanes each (an upper bound)"
        if self.threads_per_core is None:
            smt = "unknown whether two of these vCPUs share a physical core (SMT)"
        elif self.threads_per_core > 1:
            smt = (f"SMT: {self.threads_per_core} threads per core, so if this process's vCPUs are siblings of one "
                   f"core they share its FMA units and the limit is 1/{self.threads_per_core} of this")
        else:
            smt = "no SMT (1 thread per core): every vCPU counted has FMA units of its own"
        return (f"{head}. Assumed: cores = the vCPUs this process may use; {lanes}; {smt}; the clock is the "
                "reported one, which may not be the real (boost) clock, in a VM often the host's nominal one")

    def as_dict(self) -> dict:
        """What a run stores (its raw JSON): the limit (FLOP/s or None), the note and every input."""
        return {"flops": self.flops, "note": self.note(), **asdict(self)}


def _field(text: str, key: str) -> str | None:
    """The value of the first ``key : value`` line of /proc/cpuinfo or lscpu text, else None."""
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value > 0 else None


def physical_peak(cpuinfo: str, lscpu: str = "", *, cores: int) -> PhysicalPeak:
    """The float32 limit of ``cores`` cores of the CPU described by ``cpuinfo`` (/proc/cpuinfo's text) and
    ``lscpu`` (its output, "" where absent): cores x FMA units per core x fp32 lanes x 2 FLOP per FMA x clock.

    Assumptions, also spelled out in :meth:`PhysicalPeak.note` (and so in every table that reports it):

    - cores: ``cores``, the vCPUs this process may use (:func:`signbench.meta.available_cores`).
    - FMA units per core: 2 (:data:`FMA_UNITS_PER_CORE`), each one multiply-add (2 FLOP) per lane per cycle.
    - fp32 lanes per unit from the flags: avx512f 16, avx2 with fma 8, else 4. Except on AMD
      (``vendor_id`` AuthenticAMD): two 256-bit FMA pipes per core (8 lanes) whatever the flags, because
      Zen 4 runs AVX-512 as two 256-bit halves (its 512-bit FMA throughput per cycle equals 2 x 256,
      so 2 x 8, not 2 x 16); Zen generations cannot be told apart reliably from the flags, so a Zen 5
      with full 512-bit pipes is understated 2x. Intel parts with one 512-bit FMA unit are overstated 2x.
    - clock: lscpu's ``CPU max MHz`` where it reports one, else ``cpu MHz`` of /proc/cpuinfo's first
      processor; neither: the limit is None (unknown, not made up). The reported clock may not be the
      real one: a VM usually reports the host's nominal clock, and boost runs above it.
    - SMT: ``Thread(s) per core`` of lscpu, else ``siblings`` / ``cpu cores`` of /proc/cpuinfo, else
      unknown. Every counted vCPU gets FMA units of its own; with SMT two of them may share a core's,
      and the limit is then lower than this (the note says so).
    """
    flags = set((_field(cpuinfo, "flags") or _field(lscpu, "Flags") or "").split())
    vendor = _field(cpuinfo, "vendor_id") or _field(lscpu, "Vendor ID") or ""
    if "avx512f" in flags:
        isa = "avx512f"
        lanes = 8 if vendor == "AuthenticAMD" else 16
    elif "avx2" in flags and "fma" in flags:
        isa, lanes = "avx2+fma", 8
    else:
        isa, lanes = "other", 4
    mhz, source = _number(_field(lscpu, "CPU max MHz")), "lscpu CPU max MHz"
    if mhz is None:
        mhz, source = _number(_field(cpuinfo, "cpu MHz")), "/proc/cpuinfo cpu MHz"
    if mhz is None:
        source = "none"
    tpc = _number(_field(lscpu, "Thread(s) per core"))
    if tpc is None:
        siblings, per_socket = _number(_field(cpuinfo, "siblings")), _number(_field(cpuinfo, "cpu cores"))
        tpc = siblings / per_socket if siblings and per_socket else None
    return PhysicalPeak(cores=cores, fma_units=FMA_UNITS_PER_CORE, lanes=lanes, mhz=mhz, mhz_source=source,
                        vendor=vendor, isa=isa, threads_per_core=None if tpc is None else max(1, round(tpc)))


def physical_peak_here() -> PhysicalPeak:
    """:func:`physical_peak` of this machine: /proc/cpuinfo, ``lscpu`` where installed, the cores this
    process may use."""
    from signbench.meta import available_cores

    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                               env={**os.environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        lscpu = ""
    return physical_peak(cpuinfo, lscpu, cores=available_cores())
