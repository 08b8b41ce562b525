"""Running the claims at one size and turning the per-seed results into verdict rows and tables.

``run_claims("ci" | "full", ...)`` measures every family the chosen claims need (at the family's ``ci``
rung, :data:`signbench.claims.declared.CI_RUNGS`, or its ``full`` protocol), then
:func:`verdict_rows` gives one row per claim and metric; :func:`write` writes ``claims_<size>.csv`` /
``.md`` / ``.json`` and the forest plot ``claims_<size>.png``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

from signbench.claims.declared import CALLBACK_EVENTS, CI_RUNGS, CLAIMS, FAMILIES, Claim, Protocol
from signbench.claims.stats import effect_verdict, event_verdict

__all__ = ["COLUMNS", "SIZES", "protocol_for", "run_claims", "stability", "verdict_rows", "write"]

SIZES = ("ci", "full")
COLUMNS = [
    "claim", "statement", "translation", "section", "source", "metric", "arm_a", "arm_b", "kind", "direction",
    "min_effect", "n_seeds", "effect_mean", "ci_low", "ci_high", "verdict", "protocol", "family", "values_a",
    "values_b", "note", "date", "git_commit", "device", "cpu", "cpu_flags", "backend", "tensorflow", "keras", "threads",
    "onednn", "family_train_seconds",
]
#: The run metadata columns, copied from the first per-seed run of the claim's arm.
META = COLUMNS[COLUMNS.index("date"):COLUMNS.index("onednn") + 1]
#: Metrics whose effect is relative (a / b - 1) rather than a difference.
RELATIVE = {"kernel_norm"}
#: Event metrics: whether the event fired in one seed's result.
EVENTS: dict[str, Callable[[dict], bool]] = {
    "early_stop_loss": lambda r: r["early_stop_loss"] is not None,
    "early_stop_val_loss": lambda r: r["early_stop_val_loss"] is not None,
    "threshold_stop": lambda r: r["threshold_stop"] is not None,
    "checkpoint_best_epoch": lambda r: r["checkpoint_saved_epoch"] == r["checkpoint_best_epoch"],
    "checkpoint_reload_exact": lambda r: r["checkpoint_reloaded_val"] == r["checkpoint_best_val"],
}


def protocol_for(family: str, size: str) -> Protocol:
    """The protocol ``family`` is measured at for ``size``."""
    fam = FAMILIES[family]
    if size == "full":
        return fam.full
    if size == "ci":
        return next(p for p in fam.ladder if p.name == CI_RUNGS[family])
    rung = next((p for p in fam.ladder if p.name == size), None)
    if rung is None:
        raise ValueError(f"size must be one of {SIZES} or a rung of {family}'s ladder, got {size!r}")
    return rung


def _value(arm: str, metric: str, result: dict) -> float:
    return result["int8_test_accuracy"] if arm == "cnn_int8" else result[metric]


def _arm(arm: str) -> str:
    return "cnn" if arm == "cnn_int8" else arm


def verdict_rows(claims: Sequence[Claim], results: dict[str, dict[str, list[dict]]],
                 protocols: dict[str, Protocol]) -> list[dict]:
    """One row per claim and metric (gap claims get a second row, the course's training-mode gap)."""
    rows = []
    for c in claims:
        fam = results[c.family]
        metrics = [c.metric, "gap_history"] if c.metric == "gap" else [c.metric]
        for metric in metrics:
            a_runs = fam[_arm(c.arm_a)]
            if c.kind == "event":
                values_a = [r[metric] if metric != "checkpoint_reload_exact" else
                            [r["checkpoint_best_val"], r["checkpoint_reloaded_val"]] for r in a_runs]
                values_b = []
                v = event_verdict([EVENTS[metric](r) for r in a_runs])
            else:
                values_a = [_value(c.arm_a, metric, r) for r in a_runs]
                values_b = [_value(c.arm_b, metric, r) for r in fam[_arm(c.arm_b)]] if c.arm_b else []
                if c.arm_b is None:
                    effects = [c.direction * a for a in values_a]
                elif metric in RELATIVE:
                    effects = [c.direction * (a / b - 1.0) for a, b in zip(values_a, values_b, strict=True)]
                else:
                    effects = [c.direction * (a - b) for a, b in zip(values_a, values_b, strict=True)]
                v = effect_verdict(effects, c.kind, c.min_effect)
            p = protocols[c.family]
            meta = a_runs[0]["metadata"]
            note = ""
            if metric in CALLBACK_EVENTS and fam.get("confirm"):
                cf = fam["confirm"][0][metric]
                if cf["predicted"] is None:
                    note = f"seed {cf['seed']}'s history predicts no stop: no confirming run"
                else:
                    ran = (f"stopped at epoch {cf['stopped_at']}" if cf["stopped_early"]
                           else f"ran all {cf['stopped_at']} epochs")
                    note = (f"the real callback alone, seed {cf['seed']}: {ran}, the history predicted "
                            f"{cf['predicted']}: " + ("agrees" if cf["agrees"] else "DIFFERS"))
            rows.append({
                "claim": c.name, "statement": c.statement, "translation": c.translation, "section": c.section,
                "source": c.source, "metric": metric, "arm_a": c.arm_a, "arm_b": c.arm_b or "", "kind": c.kind,
                "direction": c.direction, "min_effect": c.min_effect, "n_seeds": v.n, "effect_mean": v.effect_mean,
                "ci_low": v.ci_low, "ci_high": v.ci_high, "verdict": v.verdict,
                "protocol": f"{p.name}: {p.describe()}", "family": c.family,
                "values_a": json.dumps(values_a), "values_b": json.dumps(values_b), "note": note,
                **{k: meta.get(k, "") for k in META},
                "family_train_seconds": round(sum(r.get("seconds") or 0.0 for arm, runs in fam.items()
                                                  if arm != "confirm" for r in runs), 1),
            })
    return rows


def run_claims(size: str, data, work: Path, *, names: Sequence[str] | None = None, seeds: int | None = None,
               resume: bool = True, progress: Callable[[str], None] = lambda line: None) -> list[dict]:
    """Measure the claims called ``names`` (default all) at ``size`` and return their verdict rows.
    ``seeds`` overrides the protocols' seed counts (at least 2: an interval needs them)."""
    from signbench.claims.measure import measure_family

    chosen = [c for c in CLAIMS if names is None or c.name in names]
    unknown = set(names or ()) - {c.name for c in CLAIMS}
    if unknown:
        raise ValueError(f"unknown claims {sorted(unknown)}; known: {', '.join(c.name for c in CLAIMS)}")
    if seeds is not None and seeds < 2:
        raise ValueError("a confidence interval needs at least 2 seeds")
    families = list(dict.fromkeys(c.family for c in chosen))
    protocols = {f: protocol_for(f, size) for f in families}
    results = {}
    for f in families:
        p = protocols[f]
        n = seeds or p.seeds
        progress(f"claims: {f} at {p.name} ({p.describe()}, seeds 0..{n - 1})")
        results[f] = measure_family(f, p, list(range(n)), data, Path(work) / size, resume=resume, progress=progress)
    return verdict_rows(chosen, results, protocols)


def stability(runs: dict[str, list[dict]]) -> list[dict]:
    """Compare the verdicts of the same claims measured under several numerics (``variant -> rows``):
    one row per claim and metric with each variant's verdict and whether they all agree (``stable``)."""
    variants = list(runs)
    by = {v: {(r["claim"], r["metric"]): r for r in rows} for v, rows in runs.items()}
    keys = list(dict.fromkeys(k for v in variants for k in by[v]))
    out = []
    for k in keys:
        verdicts = {v: by[v][k]["verdict"] if k in by[v] else "missing" for v in variants}
        agree = len(set(verdicts.values())) == 1 and "missing" not in verdicts.values()
        out.append({"claim": k[0], "metric": k[1], **{f"verdict {v}": verdicts[v] for v in variants},
                    "stable": agree, "verdict": next(iter(verdicts.values())) if agree else "inconclusive"})
    return out


def _cell(v) -> str:
    return f"{v:+.4f}" if isinstance(v, float) and math.isfinite(v) else str(v)


def write(rows: list[dict], out_dir: str | Path, size: str, *, command: str = "", plot: bool = True,
          wall_s: float | None = None) -> list[Path]:
    """``claims_<size>.csv`` / ``.md`` / ``.json`` (and the forest plot ``.png``) in ``out_dir``; ``wall_s``,
    the producing invocation's wall time, is said in the notes beside the training time of the stored runs."""
    from signbench.atomic import atomic_write_json
    from signbench.results import write_table

    out_dir = Path(out_dir)
    shown = ["claim", "metric", "arm_a", "arm_b", "kind", "min_effect", "n_seeds", "effect_mean", "95% CI",
             "verdict", "protocol"]
    cells = [[r["claim"], r["metric"], r["arm_a"], r["arm_b"], r["kind"], r["min_effect"], r["n_seeds"],
              _cell(r["effect_mean"]), f"[{_cell(r['ci_low'])}, {_cell(r['ci_high'])}]", f"**{r['verdict']}**",
              r["protocol"]] for r in rows]
    first = rows[0] if rows else {}
    notes = [
        "Each claim is declared in `signbench.claims.declared` before it was measured (statement, metric, arms, "
        "kind, smallest effect, protocol). Effects are paired by seed and oriented so that positive is what the "
        "claim says; event claims give the rate of seeds in which the event happened (Clopper-Pearson interval).",
        f"Run: {first.get('date', '')}, git {first.get('git_commit', '')}, {first.get('device', '')} "
        f"(CPU flags: {first.get('cpu_flags', '')}), {first.get('backend', '')} backend, TensorFlow "
        f"{first.get('tensorflow', '')}, {first.get('threads', '')} threads, oneDNN {first.get('onednn', '')}.",
    ]
    took = {r["family"]: r.get("family_train_seconds") for r in rows}
    if any(took.values()):
        notes.append("How long it took: training " + ", ".join(f"{f} {s:.0f} s" for f, s in took.items() if s)
                     + " (fit's wall time summed over every stored per-seed run of the family, timed where it ran; "
                     "pretraining, evaluation, int8 conversion and the callback-confirming runs not included)"
                     + (f"; this invocation {wall_s:.0f} s wall (runs stored by an earlier invocation are read back, "
                        "not redone)." if wall_s is not None else "."))
    footer = ["## The claims' words", ""] + [
        f"- **{c.name}** ({c.section}): \"{c.statement}\"" + (f" ({c.translation})" if c.translation else "")
        for c in CLAIMS if any(r["claim"] == c.name for r in rows)
    ]
    paths = write_table(out_dir, f"claims_{size}", rows, columns=COLUMNS, shown=shown, md_rows=cells, notes=notes,
                        footer=footer, command=command, title=f"The course's claims as verdicts ({size} size)")
    paths.append(atomic_write_json(out_dir / f"claims_{size}.json", {"size": size, "command": command, "rows": rows}))
    if plot and rows:
        from signbench.plots import forest_plot

        paths.append(forest_plot(rows, out_dir / f"claims_{size}.png", title=f"Claims ({size}): effect and 95% CI"))
    return paths
