"""``signbench reproduce``: the whole course as ordered, resumable stages into one run folder.

- :mod:`signbench.reproduce.runner`: the stage runner (atomic stage folders, resume, progress/ETA);
- :mod:`signbench.reproduce.stages`: the course's stages, calling the library modules;
- :mod:`signbench.reproduce.report`: report blocks rendered to markdown and self-contained HTML, charts;
- :mod:`signbench.reproduce.build`: the report stage (gathers results, draws charts);
- :mod:`signbench.reproduce.source`: where the data comes from (``--data`` / ``--dataset`` / default);
- :mod:`signbench.reproduce.cli`: the command.
"""

from signbench.reproduce.runner import RunError, Runner, Stage, StageContext

__all__ = ["Runner", "RunError", "Stage", "StageContext"]
