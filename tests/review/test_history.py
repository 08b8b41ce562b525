"""results/history.csv: one row per benchmark per run, the median of its raw rounds in its unit."""

from __future__ import annotations

import json

import pytest

from signbench.review import history


def _run(date: str, rounds: list[float], *, data: str | None = None, flags_in_meta: bool = False) -> dict:
    info = {"model": "cnn", "runtime": "tflite-int8", "batch_size": 1, "metric": "latency", "unit": "ms"}
    if data:
        info["data"] = data
    meta = {"date": date, "git_commit": "abc", "device": "AMD EPYC", "backend": "tensorflow", "threads": 2,
            "tensorflow": "2.21.0", "keras": "3.15.1", "litert": "2.3.0"}
    if flags_in_meta:
        meta["cpu_flags"] = "avx2 avx512f"
    return {
        "benchmarks": [{"name": "bench_infer[cnn]", "extra_info": info, "stats": {"data": rounds}},
                       {"name": "bench_none", "extra_info": {}, "stats": {"data": []}}],  # no rounds: no row
        "machine_info": {"cpu": {"flags": ["fma", "avx2", "sse4_2"]}},
        "signbench": {"meta": meta},
    }


def test_history_rows_carry_the_median_of_the_rounds_and_the_run():
    (row,) = history.history_rows(_run("2026-11-27T10:00:00+00:00", [0.003, 0.001, 0.002]), "r1")
    assert row["median"] == pytest.approx(2.0) and row["unit"] == "ms" and row["rounds"] == 3
    assert row["run"] == "r1" and row["git_commit"] == "abc" and row["threads"] == 2
    assert row["cpu_flags"] == "avx2 fma"  # py-cpuinfo's list, in signbench.meta.CPU_FLAGS order
    assert row["data"] == "real"  # runs recorded before the data kind: every benchmark ran on the real CSVs
    assert (row["model"], row["runtime"], row["batch_size"], row["metric"]) == ("cnn", "tflite-int8", "1", "latency")
    (row,) = history.history_rows(_run("d", [1.0], data="synthetic", flags_in_meta=True), "r2")
    assert row["data"] == "synthetic" and row["cpu_flags"] == "avx2 avx512f"


def test_append_keeps_one_header_and_rebuild_gives_the_same_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    path = tmp_path / "history.csv"
    for i, stem in enumerate(["20261127T100000_a", "20261127T110000_b"]):
        run = _run(f"2026-11-27T1{i}:00:00+00:00", [0.001 * (i + 1)] * 5)
        (raw / f"{stem}.json").write_text(json.dumps({**run, "signbench": {**run["signbench"]}}))
        history.append(path, history.history_rows(run, stem))
    text = path.read_text()
    assert text.count("date,git_commit") == 1 and len(history.read(path)) == 2
    assert [r["median"] for r in history.read(path)] == ["1.0", "2.0"]
    path.unlink()
    assert history.rebuild(tmp_path).read_text() == text
    assert history.read(tmp_path / "absent.csv") == []
