"""Training FLOPs per sample, counted by hand, and the matmul peak."""

from __future__ import annotations

import pytest


def test_train_flops_per_sample_by_hand():
    keras = pytest.importorskip("keras")
    from signbench.models import build
    from signbench.studies.flops import forward_flops, matmul_peak, train_flops_per_sample

    cnn = build("cnn")
    conv = 2 * 26 * 26 * 75 * 3 * 3 * 1
    dense = 2 * (13 * 13 * 75 * 256 + 256 * 128 + 128 * 24)
    assert forward_flops(cnn) == conv + dense
    # forward + weight gradients everywhere + input gradients for all but the first layer
    assert train_flops_per_sample(cnn) == 3 * (conv + dense) - conv
    # a frozen first part needs no weight gradients and no input gradients before the first trainable layer
    inputs = keras.Input((28, 28, 1))
    frozen = keras.layers.Conv2D(8, 3, trainable=False)(inputs)
    out = keras.layers.Dense(24)(keras.layers.Flatten()(frozen))
    model = keras.Model(inputs, out)
    f_conv, f_dense = 2 * 26 * 26 * 8 * 9, 2 * 26 * 26 * 8 * 24
    assert train_flops_per_sample(model) == f_conv + 2 * f_dense
    assert matmul_peak(64, repeats=3) > 1e6  # FLOP/s: positive and finite


def test_peak_meter_takes_the_max_of_its_samples_and_reports_their_spread():
    from signbench.studies.flops import PeakMeter

    values = iter([3e9, 1e9, 2e9, 5e9, 4e9, 9e9])
    meter = PeakMeter(64, min_samples=5, measure=lambda: next(values))
    with pytest.raises(ValueError, match="no matmul peak sample"):
        meter.peak  # noqa: B018 - nothing measured yet: no peak, not a made-up one
    assert meter.sample() == 3e9 and meter.sample() == 1e9 and meter.sample() == 2e9
    assert meter.peak == 3e9
    assert meter.spread() == {"count": 3, "min": 1e9, "median": 2e9, "max": 3e9}
    meter.fill()  # topped up to min_samples, no further
    assert meter.samples == [3e9, 1e9, 2e9, 5e9, 4e9] and meter.peak == 5e9
    meter.fill()
    assert len(meter.samples) == 5
    stored = meter.as_dict()
    assert stored["peak"] == 5e9 and stored["count"] == 5 and stored["median"] == 3e9 and stored["n"] == 64
    assert stored["samples"] == [3e9, 1e9, 2e9, 5e9, 4e9]
    bad = PeakMeter(measure=lambda: float("nan"))
    with pytest.raises(ValueError, match="positive"):
        bad.sample()
    assert bad.samples == []


def _cpuinfo(vendor="GenuineIntel", flags="fpu sse sse2 avx avx2 fma", mhz="2000.000", siblings=None, cores=None):
    """/proc/cpuinfo text of two processors (the first one's values are the ones read)."""
    lines = ["processor\t: {i}", f"vendor_id\t: {vendor}"]
    if mhz is not None:
        lines.append(f"cpu MHz\t\t: {mhz}")
    if siblings is not None:
        lines.append(f"siblings\t: {siblings}")
    if cores is not None:
        lines.append(f"cpu cores\t: {cores}")
    lines.append(f"flags\t\t: {flags}")
    return "\n\n".join("\n".join(lines).replace("{i}", str(i)) for i in range(2)) + "\n"


@pytest.mark.parametrize(("vendor", "flags", "isa", "lanes"), [
    ("GenuineIntel", "fpu sse2 avx avx2 fma avx512f avx512dq", "avx512f", 16),
    # AMD with AVX-512 (Zen 4) runs it as two 256-bit halves: 2 x 8 lanes per cycle, not 2 x 16
    ("AuthenticAMD", "fpu sse2 avx avx2 fma avx512f avx512dq", "avx512f", 8),
    ("AuthenticAMD", "fpu sse2 avx avx2 fma", "avx2+fma", 8),
    ("GenuineIntel", "fpu sse2 avx avx2", "other", 4),  # avx2 without fma
    ("GenuineIntel", "fpu sse sse2", "other", 4),
])
def test_physical_peak_lanes_from_the_flags(vendor, flags, isa, lanes):
    from signbench.studies.flops import physical_peak

    p = physical_peak(_cpuinfo(vendor, flags, mhz="2500.000"), cores=3)
    assert (p.isa, p.lanes, p.fma_units, p.cores, p.vendor) == (isa, lanes, 2, 3, vendor)
    assert p.mhz == 2500.0 and p.mhz_source == "/proc/cpuinfo cpu MHz"
    assert p.flops == 3 * 2 * lanes * 2 * 2500e6
    note = p.note()
    assert f"3 cores x 2 FMA units x {lanes} fp32 lanes x 2 FLOP per FMA x 2500 MHz" in note
    assert f"= {p.flops / 1e9:.4g} GFLOP/s" in note and "may not be the real (boost) clock" in note
    assert ("not 2 x 16" in note) == (vendor == "AuthenticAMD" and isa == "avx512f")


def test_physical_peak_clock_and_smt():
    from signbench.studies.flops import physical_peak

    # lscpu's max MHz wins over /proc/cpuinfo's current one, its Thread(s) per core over siblings / cores
    lscpu = "Vendor ID:  GenuineIntel\nThread(s) per core:  2\nCPU max MHz:   3500.0000\nCPU min MHz: 800.0000\n"
    p = physical_peak(_cpuinfo(mhz="1200.000", siblings=8, cores=8), lscpu, cores=2)
    assert (p.mhz, p.mhz_source, p.threads_per_core) == (3500.0, "lscpu CPU max MHz", 2)
    assert p.flops == 2 * 2 * 8 * 2 * 3500e6
    assert "2 threads per core" in p.note() and "1/2 of this" in p.note()
    # no lscpu: siblings / cpu cores of /proc/cpuinfo
    assert physical_peak(_cpuinfo(siblings=4, cores=2), cores=2).threads_per_core == 2
    no_smt = physical_peak(_cpuinfo(siblings=2, cores=2), cores=2)
    assert no_smt.threads_per_core == 1 and "no SMT" in no_smt.note()
    unknown = physical_peak(_cpuinfo(), cores=2)
    assert unknown.threads_per_core is None and "unknown whether" in unknown.note()
    # no clock anywhere: no limit, and the note says so (nothing made up)
    none = physical_peak(_cpuinfo(mhz=None), "Thread(s) per core: 1\n", cores=2)
    assert none.mhz is None and none.flops is None and none.mhz_source == "none"
    assert none.note().startswith("unknown: no clock")
    assert none.as_dict()["flops"] is None and none.as_dict()["lanes"] == 8
    assert physical_peak("", cores=1).flops is None  # no /proc/cpuinfo at all (not Linux)


def test_physical_peak_here_reads_this_machine():
    from signbench.meta import available_cores
    from signbench.studies.flops import physical_peak_here

    p = physical_peak_here()
    assert p.cores == available_cores() and p.fma_units == 2 and p.lanes in (4, 8, 16)
    assert p.flops is None or p.flops > 0
