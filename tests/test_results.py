"""Result rows, atomic writes, unique raw files, tables, the compare command, and the benchmark plugin end
to end (raw JSON, tables and history)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from signbench import results
from signbench.cli import main
from signbench.review import history
from signbench.testing.bench import ACCURACY_SKIPPED

META = {
    "date": "2026-11-26T21:00:00+00:00", "git_commit": "abc123", "device": "AMD EPYC", "backend": "tensorflow",
    "tensorflow": "2.21.0", "keras": "3.15.1", "litert": "2.3.0", "threads": 2, "seed": 0,
}


def _run_json(latency_scale=1.0, throughput=100.0, data=None):
    data = data if data is not None else list(np.linspace(1e-3, 2e-3, 101) * latency_scale)
    return {
        "benchmarks": [
            {
                "name": "bench_infer[cnn-tflite-int8-1]",
                "extra_info": {
                    "model": "cnn", "runtime": "tflite-int8", "batch_size": 1, "metric": "latency", "unit": "ms",
                    "items_per_round": 1, "items": "images", "threads": 1,
                    "metrics": {"agreement with keras": [1.0, "fraction"]},
                },
                "stats": {"data": data, "rounds": len(data), "median": float(np.median(data))},
            },
            {
                "name": "bench_train[cnn]",
                "extra_info": {
                    "model": "cnn", "runtime": "keras-fit", "batch_size": 128, "metric": "epoch time", "unit": "s",
                    "metrics": {"steady-state throughput": [throughput, "samples/s"], "MFU": [0.25, "fraction"]},
                },
                "stats": {"data": [4.0, 4.2, 4.1], "rounds": 3, "median": 4.1},  # p50 only
            },
        ],
        "signbench": {
            "meta": META,
            "skipped": [{"model": "cnn", "runtime": "edgetpu", "batch_size": 1, "reason": "no compiler"}],
        },
    }


def test_rows_have_every_column_and_raw_percentiles():
    rows = results.rows_from_benchmark_json(_run_json())
    for r in rows:
        assert set(results.COLUMNS) <= set(r)
    by = {(r["runtime"], r["metric"]): r for r in rows}
    data = np.linspace(1e-3, 2e-3, 101)
    assert by[("tflite-int8", "latency p99")]["value"] == pytest.approx(np.percentile(data, 99) * 1e3)
    assert by[("tflite-int8", "latency p50")]["unit"] == "ms" and by[("tflite-int8", "latency p50")]["rounds"] == 101
    assert by[("tflite-int8", "throughput")]["value"] == pytest.approx(1 / np.median(data))
    assert by[("tflite-int8", "throughput")]["unit"] == "images/s"
    assert by[("tflite-int8", "latency p50")]["threads"] == 1  # per-benchmark threads override the run's
    assert by[("keras-fit", "epoch time p50")]["value"] == 4.1
    assert ("keras-fit", "epoch time p99") not in by  # 3 rounds: no tail percentiles
    assert by[("keras-fit", "MFU")]["value"] == 0.25 and by[("keras-fit", "MFU")]["threads"] == 2
    skip = by[("edgetpu", "skipped")]
    assert skip["value"] == "" and skip["note"] == "skipped: no compiler" and skip["git_commit"] == "abc123"


def test_every_row_and_table_names_the_cpu_flags_of_its_run(tmp_path):
    old = _run_json()  # a run stored before the metadata had flags: py-cpuinfo's list in machine_info
    old["machine_info"] = {"cpu": {"flags": ["sse2", "fma", "avx512f", "avx2", "amx_int8"]}}
    assert {r["cpu_flags"] for r in results.rows_from_benchmark_json(old)} == {"avx2 fma avx512f amx_int8"}
    new = _run_json()
    new["signbench"]["meta"] = {**META, "cpu_flags": "avx2 fma"}
    new["machine_info"] = old["machine_info"]  # the metadata wins
    rows = results.rows_from_benchmark_json(new)
    assert {r["cpu_flags"] for r in rows} == {"avx2 fma"}
    csv_path, md_path = results.write_tables(rows, tmp_path, "t")
    assert {r["cpu_flags"] for r in results.load_rows(csv_path)} == {"avx2 fma"}
    assert "- cpu_flags: avx2 fma\n" in md_path.read_text()
    assert {r["cpu_flags"] for r in results.rows_from_benchmark_json(_run_json())} == {""}  # none recorded


def test_atomic_write_never_leaves_half_files(tmp_path, monkeypatch):
    p = results.atomic_write(tmp_path / "t.csv", "old\n")
    with pytest.raises(FileExistsError):
        results.atomic_write(p, "other\n", overwrite=False)
    assert p.read_text() == "old\n"

    def killed(*a, **k):
        raise KeyboardInterrupt  # the run is killed between writing and renaming

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        results.atomic_write(p, "new\n")
    assert p.read_text() == "old\n"
    assert [q.name for q in tmp_path.iterdir()] == ["t.csv"]


def test_raw_files_are_unique(tmp_path):
    a = results.write_raw(_run_json(), tmp_path / "raw")
    b = results.write_raw(_run_json(), tmp_path / "raw")
    assert a != b and a.exists() and b.exists()
    assert json.loads(a.read_text())["signbench"]["meta"]["git_commit"] == "abc123"


def test_tables_csv_and_markdown(tmp_path):
    rows = results.rows_from_benchmark_json(_run_json())
    csv_path, md_path = results.write_tables(rows, tmp_path, "cpu", command="python3 -m pytest bench")
    back = list(csv.DictReader(csv_path.read_text().splitlines()))
    assert len(back) == len(rows) and list(back[0]) == results.COLUMNS
    md = md_path.read_text()
    assert "`python3 -m pytest bench`" in md and "| cnn | tflite-int8 | 1 | 1 | latency p99 |" in md
    assert results.load_rows(csv_path)[0]["model"] == "cnn"


def test_markdown_escapes_pipes_in_cells(tmp_path):
    run = _run_json()
    run["benchmarks"][0]["extra_info"]["runtime"] = "fast+batch256 | fast+batch512"
    _, md_path = results.write_tables(results.rows_from_benchmark_json(run), tmp_path, "t")
    md = md_path.read_text()
    line = next(x for x in md.splitlines() if "fast+batch256" in x)
    assert "fast+batch256 \\| fast+batch512" in line
    header = next(x for x in md.splitlines() if x.startswith("| model"))
    unescaped = line.replace("\\|", "")
    assert unescaped.count("|") == header.count("|")  # same number of columns as the header


def test_tables_command_rebuilds_a_runs_tables_from_raw(tmp_path, capsys):
    run = {**_run_json(), "signbench": {**_run_json()["signbench"], "command": "python3 -m pytest bench -k x"}}
    raw = results.write_raw(run, tmp_path / "results" / "raw")
    direct = results.write_tables(results.rows_from_benchmark_json(run), tmp_path / "direct", "n",
                                  command="python3 -m pytest bench -k x")
    assert main(["tables", str(raw), "--name", "n"]) == 0  # default: the folder above raw/
    rebuilt = [tmp_path / "results" / "n.csv", tmp_path / "results" / "n.md"]
    assert [p.read_text() for p in rebuilt] == [p.read_text() for p in direct]
    assert "`python3 -m pytest bench -k x`" in rebuilt[1].read_text()
    assert str(rebuilt[0]) in capsys.readouterr().out
    assert main(["tables", str(tmp_path / "missing.json"), "--name", "n"]) == 2
    assert "missing.json" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["tables", str(bad), "--name", "n"]) == 2
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"benchmarks": []}))
    assert main(["tables", str(other), "--name", "n", "--results-dir", str(tmp_path / "o")]) == 2
    assert "signbench" in capsys.readouterr().err and not (tmp_path / "o").exists()


def _noisy_run(seed: int, slowdown: float = 1.0, device: str = "AMD EPYC") -> dict:
    """_run_json with 300 log-normal latency rounds (10% spread) scaled by ``slowdown``."""
    rng = np.random.default_rng(seed)
    run = _run_json(data=list(np.exp(rng.normal(0, 0.1, 300)) * 1e-3 * slowdown))
    run["signbench"]["meta"] = {**META, "device": device, "date": f"2026-11-2{seed}T21:00:00+00:00"}
    return run


def test_compare_command(tmp_path, capsys):
    raw = tmp_path / "raw"
    old = results.write_raw(_noisy_run(1), raw)
    same = results.write_raw(_noisy_run(2), raw)
    slow = results.write_raw(_noisy_run(3, slowdown=1.3), raw)
    assert main(["compare", str(old), str(same)]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out and "1 unchanged" in out and "1 too few rounds" in out  # 3-round fit
    assert main(["compare", str(old), str(slow)]) == 1
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("REGRESSION"))
    assert "cnn/tflite-int8/batch 1 latency" in line and "95% CI" in line and "ms" in line
    assert "1 regression" in out
    # run names under --raw-dir, and "last": the newest earlier run of the same kind of device
    assert main(["compare", old.stem, slow.stem, "--raw-dir", str(raw)]) == 1
    assert main(["compare", "last", str(slow), "--raw-dir", str(raw)]) == 1  # the newest other run: `same`
    assert capsys.readouterr().out.splitlines()[-3].startswith(f"{same.name} -> {slow.name}")
    gpu = results.write_raw(_noisy_run(4, device="NVIDIA H100"), tmp_path / "gpu")
    assert main(["compare", str(old), str(gpu)]) == 2
    assert "different kinds of device" in capsys.readouterr().err
    assert main(["compare", "last", str(gpu), "--raw-dir", str(raw)]) == 0
    assert "no other run" in capsys.readouterr().out
    assert main(["compare", str(old), str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["compare", str(old), str(bad)]) == 2
    assert main(["compare", str(old), str(slow), "--min-effect", "-1"]) == 2


TINY_BENCH = '''
import pytest

def bench_tiny(benchmark):
    benchmark.extra_info.update(model="m", runtime="python", batch_size=1, metric="latency", unit="us",
                                items_per_round=1, items="calls", metrics={"answer": [42, "things"]})
    assert benchmark.pedantic(sum, args=(range(100),), rounds=150, iterations=1) == 4950

def bench_absent(benchmark):
    pytest.skip("no such device here")

def bench_accuracy(benchmark, bench_cfg):
    benchmark.extra_info.update(model="m", runtime="fit", batch_size=8, metric="epoch", unit="s")
    benchmark.pedantic(sum, args=(range(10),), rounds=3, iterations=1)
    benchmark.extra_info["metrics"] = {"speedup": [2.0, "x"],
                                       **bench_cfg.accuracy(benchmark, {"test_acc": [0.5, "fraction"]})}
'''


def _data_dir(tmp_path, data: str) -> Path:
    """A $SIGNBENCH_DATA_DIR where the real train CSV is (a stand-in file: the tiny benchmarks never read
    it) or is not."""
    from signbench.data.locate import DATA_SUBDIR, TRAIN_CSV

    d = tmp_path / f"data-{data}"
    (d / DATA_SUBDIR).mkdir(parents=True)
    if data == "real":
        (d / DATA_SUBDIR / TRAIN_CSV).write_bytes(b"")
    return d


def _bench_env(tmp_path, data: str) -> dict[str, str]:
    """The environment of a benchmark run started from a test: ``_data_dir``'s data, no GPU, and none of
    pytest-xdist's worker variables (pytest-benchmark switches itself off when it sees them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    return {**env, "CUDA_VISIBLE_DEVICES": "-1", "TF_CPP_MIN_LOG_LEVEL": "3",
            "SIGNBENCH_DATA_DIR": str(_data_dir(tmp_path, data))}


def _bench_cmd(results_name: str, bench_file: str) -> list[str]:
    """A real benchmark run of ``bench_file`` through signbench.testing.bench into ``out``."""
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "signbench.testing.bench",
            "--benchmark-enable", "--results-dir", "out", "--results-name", results_name, bench_file]


@pytest.fixture(scope="module")
def tiny_bench_runs(tmp_path_factory):
    """data kind -> (its folder, the first pytest run of TINY_BENCH into its ``out``, the second or None):
    the real and the synthetic run at once, one per core (each is mostly a Python process importing
    TensorFlow); ``first`` is a copy of ``out`` as the first run left it. Only the synthetic folder gets a
    second run (appending to the history does not depend on the data kind; each run costs a TensorFlow
    start): MFU_BENCH into the same ``out``, under pyproject's ``-n auto`` addopts, which is also the run
    test_a_run_measures_one_matmul_peak_from_at_least_five_samples checks."""
    folders, envs, runs = {}, {}, {"real": [], "synthetic": []}
    for data in runs:
        folders[data] = tmp_path = tmp_path_factory.mktemp(f"tiny_bench_{data}")
        (tmp_path / "bench_tiny.py").write_text(TINY_BENCH)
        (tmp_path / "pytest.ini").write_text("[pytest]\npython_files = bench_*.py\npython_functions = bench_*\n")
        envs[data] = _bench_env(tmp_path, data)
    for again in (False, True):
        if again:  # the second run: two MFU benchmarks, with -n auto in the addopts
            (folders["synthetic"] / "bench_mfu.py").write_text(MFU_BENCH)
            (folders["synthetic"] / "pytest.ini").write_text(MFU_INI)
        cmd = _bench_cmd("mfu" if again else "cpu", "bench_mfu.py" if again else "bench_tiny.py")
        procs = {data: subprocess.Popen(cmd, cwd=folders[data], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, env=envs[data]) for data in folders
                 if not again or data == "synthetic"}
        for data, proc in procs.items():
            stdout, stderr = proc.communicate(timeout=600)
            runs[data].append(subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
            if len(runs[data]) == 1 and (folders[data] / "out").is_dir():
                shutil.copytree(folders[data] / "out", folders[data] / "first")
    return {data: (folders[data], runs[data][0], runs[data][1] if len(runs[data]) > 1 else None) for data in runs}


@pytest.mark.parametrize("data", ["real", "synthetic"])
def test_conftest_writes_raw_and_tables_end_to_end(tiny_bench_runs, data):
    """A real pytest-benchmark run through signbench.testing.bench: raw JSON with every round, tables; with
    the real data absent, the rows say synthetic, the tables get their own name and accuracy is skipped;
    a second run (synthetic data) appends to the history."""
    tmp_path, proc, second = tiny_bench_runs[data]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (raw,) = (tmp_path / "first" / "raw").glob("*.json")
    run = json.loads(raw.read_text())
    assert len(run["benchmarks"][0]["stats"]["data"]) == 150
    assert run["signbench"]["meta"]["data"] == data
    extra = results.write_raw(run, raw.parent)
    assert extra != raw  # a second run gets its own raw file
    extra.unlink()
    name = "cpu" if data == "real" else "cpu_synthetic"
    assert run["signbench"]["results_name"] == name
    assert sorted(p.name for p in (tmp_path / "first").glob("*.*")) == sorted([f"{name}.csv", f"{name}.md", "history.csv"])
    rows = list(csv.DictReader((tmp_path / "first" / f"{name}.csv").read_text().splitlines()))
    by = {(r["runtime"], r["metric"]): r for r in rows}
    p99 = np.percentile(run["benchmarks"][0]["stats"]["data"], 99) * 1e6
    assert float(by[("python", "latency p99")]["value"]) == pytest.approx(p99, rel=1e-9)
    assert by[("python", "answer")]["value"] == "42" and by[("python", "answer")]["unit"] == "things"
    assert by[("", "skipped")]["note"] == "skipped: no such device here"
    assert by[("python", "latency p50")]["git_commit"] and by[("python", "latency p50")]["tensorflow"]
    assert {r["data"] for r in rows} == {data}
    assert by[("fit", "speedup")]["value"] == "2.0"
    if data == "real":
        assert by[("fit", "test_acc")]["value"] == "0.5"
    else:  # accuracy on synthetic images means nothing: a skipped row saying why, on the benchmark's row key
        acc = by[("fit", "test_acc")]
        assert acc["value"] == "" and acc["note"] == f"skipped: {ACCURACY_SKIPPED}" and acc["model"] == "m"
        assert acc["batch_size"] == "8"
    md = (tmp_path / "first" / f"{name}.md").read_text()
    assert md.startswith(f"# signbench results: {name} ({data} data)")
    assert (results.SYNTHETIC_NOTE in md) == (data == "synthetic")
    assert f"signbench: {len(rows)} rows on {data} data" in proc.stdout
    assert not list((tmp_path / "first").glob(".*.tmp"))
    # one history row per benchmark with rounds, the median of the raw rounds, data kind stamped
    hist = next(h for h in history.read(tmp_path / "first" / "history.csv") if h["benchmark"] == "bench_tiny")
    assert hist["run"] == raw.stem and hist["data"] == data and hist["rounds"] == "150"
    assert float(hist["median"]) == pytest.approx(np.median(run["benchmarks"][0]["stats"]["data"]) * 1e6)
    assert hist["unit"] == "us" and hist["git_commit"] and "cpu_flags" in hist
    assert run["benchmarks"][0]["extra_info"]["data"] == data
    if second is None:
        return
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(history.read(tmp_path / "out" / "history.csv")) == 4  # a second run appends (two benchmarks each)
    assert (tmp_path / "out" / "cpu_synthetic.csv").read_text() == (tmp_path / "first" / "cpu_synthetic.csv").read_text()
    before = (tmp_path / "out" / "history.csv").read_text()
    history.rebuild(tmp_path / "out")  # the same rows from raw/ alone (two runs of one second may swap)
    assert sorted((tmp_path / "out" / "history.csv").read_text().splitlines()) == sorted(before.splitlines())


def _mfu_run(peaks) -> dict:
    """_run_json plus two benchmarks that report MFU (achieved FLOP/s) and the run's ``peaks`` block."""
    run = _run_json()
    for name, achieved in (("a", {"mfu": 30e9, "plain_mfu": 20e9}), ("b", {"mfu": 45e9})):
        run["benchmarks"].append({
            "name": f"bench_{name}",
            "extra_info": {"model": name, "runtime": "keras-fit", "batch_size": 128, "metric": "epoch", "unit": "s",
                           "achieved_flops": achieved},
            "stats": {"data": [1.0, 1.1, 1.2], "rounds": 3, "median": 1.1},
        })
    run["signbench"]["peaks"] = peaks
    return run


def test_mfu_rows_divide_by_the_runs_one_peak(tmp_path):
    peaks = {"matmul": {"peak": 120e9, "count": 5, "min": 90e9, "median": 110e9, "max": 120e9, "n": 1024,
                        "samples": [90e9, 100e9, 110e9, 115e9, 120e9]},
             "physical": {"flops": 150e9, "note": "2 cores x 2 FMA units x 8 fp32 lanes ... Assumed: ..."}}
    rows = results.rows_from_benchmark_json(_mfu_run(peaks))
    by = {(r["model"], r["metric"]): r for r in rows}
    for model, name, achieved in (("a", "mfu", 30e9), ("a", "plain_mfu", 20e9), ("b", "mfu", 45e9)):
        assert by[(model, f"{name}_achieved")]["value"] == achieved / 1e9
        assert by[(model, f"{name}_achieved")]["unit"] == "GFLOP/s"
        mfu, physical = by[(model, name)], by[(model, f"{name}_physical")]
        assert mfu["value"] == pytest.approx(achieved / 120e9) and mfu["unit"] == "fraction"
        assert physical["value"] == pytest.approx(achieved / 150e9)
        assert mfu["note"] == "achieved / matmul_peak (120 GFLOP/s)"  # the same peak in every row, said
        assert physical["note"] == "achieved / physical_peak (150 GFLOP/s)"
    # the peaks once per run, not per benchmark, with the spread and the physical limit's inputs
    assert [r["metric"] for r in rows].count("matmul_peak") == 1
    assert [r["metric"] for r in rows].count("physical_peak") == 1
    assert by[("", "matmul_peak")]["value"] == 120.0 and by[("", "physical_peak")]["value"] == 150.0
    assert by[("", "matmul_peak")]["note"] == ("max of 5 float32 1024x1024 matmul samples over the run: "
                                               "min 90, median 110, max 120 GFLOP/s")
    assert by[("", "physical_peak")]["note"] == peaks["physical"]["note"]
    md = results.write_tables(rows, tmp_path, "cpu")[1].read_text()
    assert results.MFU_NOTE in md and "matmul_peak" in md
    # an unknown physical limit (no clock; an accelerator run): empty values that say so, nothing made up
    rows = results.rows_from_benchmark_json(_mfu_run({**peaks, "physical": {"flops": None, "note": "unknown"}}))
    by = {(r["model"], r["metric"]): r for r in rows}
    assert by[("a", "mfu_physical")]["value"] == "" and by[("a", "mfu_physical")]["note"] == "no physical_peak in this run"
    assert by[("a", "mfu")]["value"] == pytest.approx(0.25) and by[("", "physical_peak")]["value"] == ""
    # a run without MFU benchmarks gets no peak rows and no MFU note
    plain = results.rows_from_benchmark_json(_run_json())
    assert not {"matmul_peak", "physical_peak"} & {r["metric"] for r in plain}
    assert results.MFU_NOTE not in results.write_tables(plain, tmp_path, "plain")[1].read_text()


MFU_BENCH = '''
def bench_one(benchmark, peak_meter):
    peak_meter.sample()
    benchmark.extra_info.update(model="one", runtime="fit", batch_size=1, metric="epoch", unit="s")
    benchmark.pedantic(sum, args=(range(10),), rounds=3, iterations=1)
    benchmark.extra_info["achieved_flops"] = {"mfu": 1e9, "plain_mfu": 2e9}

def bench_two(benchmark, peak_meter):
    peak_meter.sample()
    benchmark.extra_info.update(model="two", runtime="fit", batch_size=1, metric="epoch", unit="s")
    benchmark.pedantic(sum, args=(range(10),), rounds=3, iterations=1)
    benchmark.extra_info["achieved_flops"] = {"mfu": 3e9}
'''


MFU_INI = "[pytest]\npython_files = bench_*.py\npython_functions = bench_*\naddopts = -n auto --dist loadscope\n"


def test_a_run_measures_one_matmul_peak_from_at_least_five_samples(tiny_bench_runs):
    """A real run of two MFU benchmarks (tiny_bench_runs' second run): one sample after collection and one
    before each is three, so the plugin takes two more before writing; every MFU row divides by their
    maximum. With pyproject's ``-n auto`` in its addopts too: a real benchmark run still runs in one process
    (under pytest-xdist, pytest-benchmark would switch itself off and no raw JSON would be written)."""
    tmp_path, _, proc = tiny_bench_runs["synthetic"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (raw,) = [p for p in (tmp_path / "out" / "raw").glob("*.json")
              if json.loads(p.read_text())["signbench"]["results_name"] == "mfu_synthetic"]
    peaks = json.loads(raw.read_text())["signbench"]["peaks"]
    matmul = peaks["matmul"]
    assert matmul["count"] == 5 and len(matmul["samples"]) == 5 and matmul["n"] == 1024
    assert matmul["peak"] == max(matmul["samples"]) and matmul["min"] == min(matmul["samples"])
    assert peaks["physical"]["flops"] is None or peaks["physical"]["flops"] > 0
    rows = list(csv.DictReader((tmp_path / "out" / "mfu_synthetic.csv").read_text().splitlines()))
    mfu = {(r["model"], r["metric"]): r for r in rows}
    for model, name, achieved in (("one", "mfu", 1e9), ("one", "plain_mfu", 2e9), ("two", "mfu", 3e9)):
        assert float(mfu[(model, name)]["value"]) == pytest.approx(achieved / matmul["peak"], rel=1e-12)
        if peaks["physical"]["flops"]:
            assert float(mfu[(model, f"{name}_physical")]["value"]) == pytest.approx(
                achieved / peaks["physical"]["flops"], rel=1e-12)
    assert len({mfu[k]["note"] for k in (("one", "mfu"), ("one", "plain_mfu"), ("two", "mfu"))}) == 1
    assert float(mfu[("", "matmul_peak")]["value"]) == pytest.approx(matmul["peak"] / 1e9, rel=1e-12)
    assert results.MFU_NOTE in (tmp_path / "out" / "mfu_synthetic.md").read_text()


def test_smoke_run_writes_nothing(tmp_path):
    (tmp_path / "bench_tiny.py").write_text(TINY_BENCH)
    (tmp_path / "pytest.ini").write_text("[pytest]\npython_files = bench_*.py\npython_functions = bench_*\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "signbench.testing.bench",
         "--benchmark-disable",
         "--results-dir", "out", "bench_tiny.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=_bench_env(tmp_path, "synthetic"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not Path(tmp_path / "out").exists()  # no raw file, no table, no history row


@pytest.mark.parametrize("cores", [1, 2, 3, 16])
@pytest.mark.parametrize("enabled", [False, True])
def test_xdist_workers_for_tests_and_none_for_real_benchmark_runs(monkeypatch, cores, enabled):
    """pyproject's ``-n auto``: a worker per core (at most 4, none with one core) for tests and smoke runs,
    none for a run with ``--benchmark-enable``; PYTEST_XDIST_AUTO_NUM_WORKERS left to pytest-xdist."""
    from types import SimpleNamespace

    from signbench.testing import bench

    config = SimpleNamespace(getoption=lambda name, default=None: enabled if name == "benchmark_enable" else default)
    monkeypatch.setattr(bench, "available_cores", lambda: cores)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    expected = 0 if enabled or cores == 1 else min(cores, 4)
    assert bench.pytest_xdist_auto_num_workers(config) == expected
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")
    assert bench.pytest_xdist_auto_num_workers(config) == (0 if enabled else None)


@pytest.mark.parametrize("data", ["real", "synthetic"])
def test_report_header_and_data_kind_follow_the_real_data(tmp_path, monkeypatch, data):
    from signbench.testing import bench

    monkeypatch.setenv("SIGNBENCH_DATA_DIR", str(_data_dir(tmp_path, data)))
    assert bench.data_kind() == data
    (line,) = bench.pytest_report_header(None)
    assert f"data {data}" in line
    if data == "synthetic":
        assert str(tmp_path / f"data-{data}") in line  # where the real data was looked for


def _with_data(run: dict, data: str | None) -> dict:
    run = json.loads(json.dumps(run))
    if data is None:
        run["signbench"]["meta"].pop("data", None)
    else:
        run["signbench"]["meta"]["data"] = data
    return run


def test_rows_record_the_data_and_old_runs_read_as_real():
    assert {r["data"] for r in results.rows_from_benchmark_json(_with_data(_run_json(), "synthetic"))} == {"synthetic"}
    # Stored before the column existed (every benchmark then needed the real CSVs): real.
    assert {r["data"] for r in results.rows_from_benchmark_json(_with_data(_run_json(), None))} == {"real"}
    run = _with_data(_run_json(), "real")
    run["benchmarks"][1]["extra_info"]["data"] = "synthetic"  # a benchmark that says what it trained on
    by = {r["runtime"]: r["data"] for r in results.rows_from_benchmark_json(run) if r["note"] == ""}
    assert by == {"tflite-int8": "real", "keras-fit": "synthetic"}
    assert results.data_of({}) == "real" and results.data_of({"data": ""}) == "real"


def test_tables_say_synthetic_and_show_the_data_when_mixed(tmp_path):
    rows = results.rows_from_benchmark_json(_with_data(_run_json(), "synthetic"))
    _, md = results.write_tables(rows, tmp_path, "cpu_synthetic")
    text = md.read_text()
    assert text.startswith("# signbench results: cpu_synthetic (synthetic data)")
    assert results.SYNTHETIC_NOTE in text and "- data: synthetic" in text
    assert "| data |" not in text
    real = results.rows_from_benchmark_json(_with_data(_run_json(), "real"))
    _, md = results.write_tables(real + rows, tmp_path, "mixed")
    text = md.read_text()
    assert "| data | model |" in text and "| real | cnn |" in text and "| synthetic | cnn |" in text
    assert results.SYNTHETIC_NOTE in text and "(real and synthetic data)" in text


def _summary_run(data: str) -> dict:
    run = _with_data(_run_json(), data)
    extra = json.loads(json.dumps(run["benchmarks"][0]))
    extra["extra_info"]["runtime"] = "keras-call"
    extra["stats"]["data"] = [x * 5 for x in extra["stats"]["data"]]  # slower than tflite-int8
    big = json.loads(json.dumps(run["benchmarks"][0]))
    big["extra_info"].update(batch_size=256, items_per_round=256)
    run["benchmarks"] += [extra, big]
    run["benchmarks"][1]["extra_info"]["runtime"] = "keras-fit"
    run["benchmarks"][1]["extra_info"]["metrics"]["steady-state throughput"] = [1234.5, "samples/s"]
    return run


def test_summary_says_the_data_first_and_the_best_runtimes():
    real = results.rows_from_benchmark_json(_summary_run("real"))
    lines = results.summary_lines(real, where=["Raw run: x.json"], exitstatus=0)
    text = "\n".join(lines)
    assert lines[0] == "Raw run: x.json" and lines[2].startswith("Data: REAL")
    best = next(ln for ln in lines if ln.strip().startswith("cnn") and "batch 1" in ln)
    assert "batch 1 tflite-int8 1.5 ms p50" in best and "keras-call" not in best
    assert "batch 256 tflite-int8 170,667 images/s" in best
    assert "1,234 samples/s at batch 128" in text or "1,235 samples/s at batch 128" in text
    assert "Skipped rows: 1" in text and "no compiler" in text and "exit status" not in text
    synthetic = results.rows_from_benchmark_json(_summary_run("synthetic"))
    text = "\n".join(results.summary_lines(synthetic, exitstatus=1))
    assert "Data: SYNTHETIC" in text and "REAL" not in text and "pytest exit status 1" in text
    # Real and synthetic rows are summarized apart, never ranked together.
    both = results.summary_lines(real + synthetic)
    assert sum(ln.startswith("Data: ") for ln in both) == 2
    assert results.summary_lines([]) == ["No rows."]


def test_summary_command(tmp_path, capsys):
    run = _summary_run("synthetic")
    run["signbench"].update(results_name="cpu_synthetic", exitstatus=0)
    raw = results.write_raw(run, tmp_path / "results" / "raw")
    assert main(["summary", str(raw)]) == 0
    out = capsys.readouterr().out
    assert f"Raw run: {raw}" in out and str(tmp_path / "results" / "cpu_synthetic.csv") in out
    assert "Data: SYNTHETIC" in out and "Best inference runtime per model" in out
    csv_path, _ = results.write_tables(results.rows_from_benchmark_json(run), tmp_path, "t")
    assert main(["summary", str(csv_path)]) == 0
    assert "Data: SYNTHETIC" in capsys.readouterr().out
    assert main(["summary", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_synthetic_stand_in_has_the_real_shapes_and_is_seeded():
    from signbench.data.types import SIGN_LETTERS
    from signbench.testing.bench import SIGN_MNIST_ROWS, SMOKE_ROWS, synthetic_sign_data

    train, test = synthetic_sign_data(0, SMOKE_ROWS)
    assert (len(train), len(test)) == (SMOKE_ROWS["train"], SMOKE_ROWS["test"])
    for ds in (train, test):
        assert ds.images.shape[1:] == (28, 28, 1) and ds.images.dtype == np.uint8
        assert ds.class_names == SIGN_LETTERS and set(ds.labels.tolist()) == set(range(24))
    again, _ = synthetic_sign_data(0, SMOKE_ROWS)
    other, _ = synthetic_sign_data(1, SMOKE_ROWS)
    assert np.array_equal(train.images, again.images) and not np.array_equal(train.images, other.images)
    assert not np.array_equal(train.images[: len(test)], test.images)
    assert SIGN_MNIST_ROWS == {"train": 27_455, "test": 7_172}


class _FakeBenchmark:
    def __init__(self):
        self.extra_info = {"model": "cnn", "runtime": "keras-fit", "batch_size": 128}
        self.fullname = "bench/bench_speed.py::bench_x"


@pytest.mark.parametrize("data", ["real", "synthetic"])
def test_accuracy_is_kept_on_real_data_and_a_skipped_row_on_synthetic(data):
    from signbench.testing.bench import ACCURACY_SKIPPED, BenchConfig

    cfg = BenchConfig(smoke=False, seed=0, budget_s=1.0, litert_threads=None, data=data, skipped=[])
    acc = {"test_acc": [0.9, "fraction"], "test_acc_diff": [0.01, "fraction"]}
    kept = cfg.accuracy(_FakeBenchmark(), acc)
    if data == "real":
        assert kept == acc and cfg.skipped == []
    else:
        assert kept == {} and [s["metric"] for s in cfg.skipped] == ["test_acc", "test_acc_diff"]
        assert all(s["reason"] == ACCURACY_SKIPPED and s["model"] == "cnn" and s["batch_size"] == 128
                   and s["test"] == "bench/bench_speed.py::bench_x" for s in cfg.skipped)
