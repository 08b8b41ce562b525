"""MkDocs hook (``hooks: [docs/hooks.py]`` in mkdocs.yml): publish the tables in results/ with the docs.

The tables under ``results/`` are written by the benchmarks, the studies and ``signbench results`` and live
beside the code, not under ``docs/``. :func:`on_files` adds every ``results/*.md`` page, the data files
beside them (``*.csv``, ``*.jsonl``) and the index's charts (``results/index/*.png``) to the build as
generated files at the same paths, read from their place in the checkout, so a docs page links to
``results/index.md`` or ``results/cpu.md`` and ``mkdocs build --strict`` fails when such a link points at
nothing. ``results/index.md`` (the results index) is the folder's page, ``results/index.html`` in the site;
``results/README.md`` (every table and its command) is published at ``results/README/``. Nothing is
copied into ``docs/``. (mkdocs >= 1.6: ``File.generated``.)
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

#: The folder of tables, relative to the folder that holds mkdocs.yml.
RESULTS = "results"
#: What is published from it: pages, the data files they link to, the index's charts.
PATTERNS = ("*.md", "*.csv", "*.jsonl", "index/*.png")


def on_files(files: Files, config) -> Files:
    """Add the results folder's pages, data files and charts to ``files`` under ``results/``."""
    folder = Path(config.config_file_path).resolve().parent / RESULTS
    if not sorted(folder.glob("*.md")):
        raise PluginError(f"docs/hooks.py: no Markdown tables in {folder}")
    for path in sorted(p for pattern in PATTERNS for p in folder.glob(pattern)):
        uri = f"{RESULTS}/{path.relative_to(folder).as_posix()}"
        if files.get_file_from_path(uri) is not None:
            raise PluginError(f"docs/hooks.py: docs/{uri} would hide {path}; remove one of them")
        f = File.generated(config, uri, abs_src_path=str(path))
        if path.name == "README.md" and (folder / "index.md").is_file():
            f.dest_uri = f"{RESULTS}/README/index.html"  # index.md is the folder's page
        files.append(f)
    return files
