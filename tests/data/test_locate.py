"""Where the real data is found: $SIGNBENCH_DATA_DIR, then ../shared/data from the current directory,
then the download cache, the same for an editable and a regular (non-editable) install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signbench.data.locate import DATA_SUBDIR, TRAIN_CSV, cache_dir, candidate_dirs, real_data_dir


def _with_csv(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / TRAIN_CSV).write_bytes(b"")
    return folder


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("SIGNBENCH_DATA_DIR", raising=False)
    monkeypatch.setenv("SIGNBENCH_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_the_variable_wins_found_or_not(clean_env, monkeypatch):
    _with_csv(clean_env / "shared" / "data" / DATA_SUBDIR)
    monkeypatch.setenv("SIGNBENCH_DATA_DIR", str(clean_env / "elsewhere"))
    assert real_data_dir() == clean_env / "elsewhere" / DATA_SUBDIR
    assert candidate_dirs() == [clean_env / "elsewhere" / DATA_SUBDIR]


def test_shared_beside_the_current_directory_then_the_cache(clean_env):
    shared = clean_env / "shared" / "data" / DATA_SUBDIR
    cached = _with_csv(cache_dir() / DATA_SUBDIR)
    assert real_data_dir() == cached  # no shared folder yet: the cache
    _with_csv(shared)
    assert real_data_dir() == shared  # the shared folder comes first
    for f in (shared, cached):
        (f / TRAIN_CSV).unlink()
    assert real_data_dir() == shared  # nothing anywhere: the first place, for the error message


_PROBE = "import json, signbench; from signbench.data.locate import real_data_dir; " \
         "print(json.dumps({'package': signbench.__file__, 'data': str(real_data_dir())}))"


def _probe(cwd: Path, env: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_editable_and_regular_installs_find_the_same_data(clean_env, pytestconfig):
    """A regular install (the package copied into site-packages, far from the checkout) finds the data
    exactly where the editable install does: nothing depends on where the package lives."""
    target = clean_env / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target),
         str(pytestconfig.rootpath)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shared = _with_csv(clean_env / "shared" / "data" / DATA_SUBDIR)
    env = {k: v for k, v in os.environ.items() if k not in ("SIGNBENCH_DATA_DIR", "PYTHONPATH")}
    editable = _probe(Path.cwd(), env)
    regular = _probe(Path.cwd(), {**env, "PYTHONPATH": str(target)})
    assert Path(regular["package"]).is_relative_to(target)
    assert not Path(editable["package"]).is_relative_to(target)
    assert editable["data"] == regular["data"] == str(shared)
