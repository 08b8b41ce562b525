"""``signbench reproduce``: the whole course as ordered, resumable stages into one run folder.

- :mod:`signbench.reproduce.config`: the run's settings (``RunConfig``, ``Profile``, ``DataSpec``);
- :mod:`signbench.reproduce.source`: where the data comes from (``--data`` / ``--dataset`` / default);
- :mod:`signbench.reproduce.stages`: the course's stages, one ``STAGES`` list;
- :mod:`signbench.reproduce.runner`: the stage runner (atomic stage folders, resume, progress/ETA);
- :mod:`signbench.reproduce.report`: the report (sections per stage, markdown and self-contained HTML).

The command itself is :mod:`signbench.commands.reproduce`.
"""
