"""The course's claims as verdicts: declared before measuring (:mod:`~signbench.claims.declared`), measured
over seeds (:mod:`~signbench.claims.measure`), judged with confidence intervals
(:mod:`~signbench.claims.stats`), written as tables (:mod:`~signbench.claims.run`). ``signbench claims``
is the command."""
