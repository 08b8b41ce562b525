"""MkDocs hook (``hooks: [docs/hooks.py]`` in mkdocs.yml): publish the tables in results/ with the docs.

The tables under ``results/`` are written by the benchmarks and studies and live beside the code, not
under ``docs/``. :func:`on_files` adds every ``results/*.md`` (``results/README.md`` included) to the
build as a generated file at ``results/<name>.md``, read from its place in the checkout, so a docs page
links to ``results/cpu.md`` and ``mkdocs build --strict`` fails when such a link points at nothing.
Nothing is copied into ``docs/``. (mkdocs >= 1.6: ``File.generated``.)
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

#: The folder of tables, relative to the folder that holds mkdocs.yml.
RESULTS = "results"


def on_files(files: Files, config) -> Files:
    """Add ``results/*.md`` to ``files`` as ``results/<name>.md`` (README.md becomes ``results/index.html``)."""
    folder = Path(config.config_file_path).resolve().parent / RESULTS
    pages = sorted(folder.glob("*.md"))
    if not pages:
        raise PluginError(f"docs/hooks.py: no Markdown tables in {folder}")
    for path in pages:
        uri = f"{RESULTS}/{path.name}"
        if files.get_file_from_path(uri) is not None:
            raise PluginError(f"docs/hooks.py: docs/{uri} would hide {path}; remove one of them")
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files
