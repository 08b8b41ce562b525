"""Studies: each measures something and writes a table to ``results/``.

- :mod:`signbench.studies.course_table`: the course's three models at full length (``signbench course``);
- :mod:`signbench.studies.sota`: the beyond-the-course ``cnn_plus`` recipe (``signbench sota``);
- :mod:`signbench.studies.model_selection`: precision vs complexity on the transfer task
  (``signbench transfer select``);
- :mod:`signbench.studies.speed`: ``fit``'s speed options against plain ``fit`` (``bench/bench_speed.py``);
- :mod:`signbench.studies.flops`: FLOPs per training sample, the run's one matmul peak and the CPU's physical limit, for MFU.
"""
