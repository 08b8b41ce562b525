"""What a reviewer reads: the results index (:mod:`signbench.review.index`, ``signbench results``), the
benchmark history (:mod:`signbench.review.history`, ``results/history.csv``), the regression gate on raw
rounds (:mod:`signbench.review.regress`, ``signbench compare``) and the report blocks both the index and
the reproduction report are made of (:mod:`signbench.review.blocks`)."""
