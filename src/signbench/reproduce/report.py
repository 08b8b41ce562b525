"""The reproduction report: ``report.md`` and ``report.html`` (images embedded as base64), ``results.csv``
and ``results.json``, written by the report stage from every finished stage's results.

A report is a list of blocks (heading, paragraph, table, image, from :mod:`signbench.review.blocks`);
:func:`to_markdown` and :func:`to_html` render the same blocks. Each stage of :data:`signbench.reproduce.stages.STAGES` names
its section function here (``section_<stage>(result, ctx) -> blocks``); :func:`stage_report` walks
them in order. Charts come from :mod:`signbench.plots`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signbench import plots
from signbench.atomic import atomic_write, atomic_write_json
from signbench.reproduce.runner import DONE, StageContext, format_seconds
from signbench.results import csv_text
from signbench.review.blocks import Heading, Image, Paragraph, Table, to_html, to_markdown

__all__ = [
    "Heading",
    "Image",
    "Paragraph",
    "Table",
    "overfitting_story",
    "publish",
    "results_table",
    "section_claims",
    "stage_report",
    "summary_rows",
    "to_html",
    "to_markdown",
]


# -- the results table ----------------------------------------------------------------------------
RESULTS_HEADERS = (
    "model", "train acc", "val acc", "test acc",
    "course train", "course val", "course test", "epochs", "train time (s)",
)


def results_table(models: Sequence[Mapping[str, Any]]) -> Table:
    """One row per trained model next to the course's published numbers (by ``name``)."""
    from signbench.models.course import COURSE_PUBLISHED

    rows = []
    for m in models:
        course = COURSE_PUBLISHED.get(m["name"], {})
        rows.append([
            m["name"], m.get("train_accuracy"), m.get("val_accuracy"), m.get("test_accuracy"),
            course.get("train"), course.get("val"), course.get("test"), m.get("epochs"),
            None if m.get("seconds") is None else f"{m['seconds']:.1f}",
        ])
    return Table(RESULTS_HEADERS, rows)


def summary_rows(results: dict[str, dict]) -> list[dict[str, Any]]:
    """One row per trained model, plus the CNN's best checkpoint, in report order."""
    keys = ("name", "train_accuracy", "val_accuracy", "test_accuracy", "epochs", "seconds", "params")
    rows = []
    for key in [k for k in results if k.startswith("train-")]:  # the course models, in stage order
        r = results[key]
        if r:
            rows.append({k: r.get(k) for k in keys})
            if r["name"] == "cnn" and r.get("best_checkpoint"):
                b = r["best_checkpoint"]
                rows.append({"name": "cnn (best checkpoint)", "train_accuracy": None,
                             "val_accuracy": b.get("val_accuracy"), "test_accuracy": b.get("test_accuracy"),
                             "epochs": b.get("epoch"), "seconds": None, "params": r.get("params")})
    if results.get("tune"):
        rows.append({k: results["tune"].get(k) for k in keys})
    return rows


# -- sections, one per stage (each gets the stage's result and the report stage's context) ---------------
def section_data(d: dict, ctx: StageContext) -> list:
    verified = "SHA-256 verified against the published files" if d.get("verified") else "not hash-verified"
    return [Paragraph(
        f"Data ({d['origin']}, {d['kind']}): {d['train']} train"
        + (f" (a stratified subsample of {d['train_full']})" if d.get("train_full", d["train"]) != d["train"] else "")
        + f" and {d['test']} test images of shape {tuple(d['image_shape'])}, {d['num_classes']} classes; {verified}."
    )]


def section_clean(c: dict, ctx: StageContext) -> list:
    return [Heading("Cleaning"), Paragraph(
        f"`signbench.data.clean` kept {c['rows_out']} of {c['rows_in']} train rows; dropped "
        + ", ".join(f"{k} {v}" for k, v in c["dropped"].items()) + "."
    )]


def _leak_text(leak: dict) -> str:
    if not leak:
        return "not run"
    return (
        f"{leak['leaked_test_images']} test images ({leak['leaked_fraction']:.1%}) also appear in train, "
        f"{leak['label_conflicts']} of them with another label; exact duplicates within train "
        f"{leak['train_duplicates']}, within test {leak['test_duplicates']}"
    )


def section_explore(e: dict, ctx: StageContext) -> list:
    shutil.copyfile(ctx.path("explore") / "class_balance.png", ctx.out / "class_balance.png")
    return [
        Heading("Data: class balance and leakage"),
        Paragraph(f"Largest/smallest train class: {e.get('imbalance_ratio'):.2f}. Leakage check (exact images "
                  f"shared by train and test): {_leak_text(e.get('leakage', {}))}."),
        Image("Train class balance", Path("class_balance.png")),
    ]


def section_split(s: dict, ctx: StageContext) -> list:
    return [Paragraph(
        f"Trained on {s['train']} images; validation = a seeded, stratified 20% of the test set ({s['val']} "
        f"images) (the course's protocol); test = all {s['test']} test images."
    )]


def section_model(r: dict, ctx: StageContext) -> list:
    """A trained model's learning curves (the course models and the tuned one)."""
    stage = "tune" if r["name"] == "tuned" else f"train-{r['name']}"
    dst = ctx.out / f"curves-{r['name']}.png"
    shutil.copyfile(ctx.path(stage) / "learning_curves.png", dst)
    return [Image(f"Learning curves: {r['name']}", Path(dst.name))]


def section_tune(t: dict, ctx: StageContext) -> list:
    b = t["budget"]
    return [*section_model(t, ctx), Heading("Tuning (Hyperband)"), Paragraph(
        f"{'Full' if b['full'] else 'Small'} budget: max_epochs {b['max_epochs']}, factor {b['factor']}, "
        f"{b['train_images']} training images, {len(t['trials'])} trials (all COMPLETED). Best "
        f"hyperparameters {t['best_hyperparameters']} (search val accuracy {t['best_score']:.4f})."
    ), Table(
        ["trial", "status", "val accuracy", "units", "learning rate"],
        [[tr["trial_id"], tr["status"], tr["score"], tr["hyperparameters"].get("units"),
          tr["hyperparameters"].get("learning_rate")] for tr in t["trials"]],
    )]


def section_save_reload(s: dict, ctx: StageContext) -> list:
    return [Heading(f"Save and reload ({s['model']})"), Table(
        ["format", "file", "bytes", "max abs diff", "same predictions", "note"],
        [[r["format"], r["file"], r["bytes"], r["max_abs_diff"], r["same_predictions"], r["note"]] for r in s["rows"]],
    )]


def section_transfer(t: dict, ctx: StageContext) -> list:
    blocks: list[Any] = [Heading("Transfer learning")]
    if t.get("summary"):
        blocks.append(Paragraph(str(t["summary"])))
    rows = t.get("rows") or []
    if rows:
        headers = list(rows[0])
        blocks.append(Table(headers, [[r.get(h) for h in headers] for r in rows]))
    if len(blocks) == 1:
        blocks.append(Paragraph(", ".join(f"{k}: {v}" for k, v in t.items() if not isinstance(v, dict | list))))
    return blocks


def section_deploy(dep: dict, ctx: StageContext) -> list:
    plots.accuracy_latency_chart(dep["rows"], ctx.out / "accuracy_latency.png",
                                 title="Test accuracy vs one-image latency")
    lat = [{"model": r["model"], "runtime": r["runtime"], "p50": r["latency_ms"]} for r in dep["rows"]
           if r.get("latency_ms")]
    latency = []
    if lat:
        plots.latency_chart(lat, ctx.out / "latency.png", title="One-image p50 latency per runtime")
        latency = [Image("One-image latency per model and runtime (fastest on top)", Path("latency.png"))]
    return [
        Heading("Deployment: accuracy and one-image latency per model and runtime"),
        Paragraph(f"p50 of {dep['latency_runs']} single-image calls after one warm-up, {dep['threads']} threads. "
                  f"{dep['note']}."),
        Table(["model", "runtime", "test accuracy", "p50 latency (ms)", "size (bytes)"],
              [[r["model"], r["runtime"], r["accuracy"], f"{r['latency_ms']:.3g}", r["bytes"]] for r in dep["rows"]]),
        Image("Accuracy vs latency per model and runtime", Path("accuracy_latency.png")),
        *latency,
    ]


def section_claims(c: dict, ctx: StageContext) -> list:
    """Each claim, the course's words, verdict, effect and interval, and the forest plot."""
    blocks: list[Any] = [Heading("The course's claims")]
    if c.get("skipped"):
        return [*blocks, Paragraph(f"Not measured in this run: {c['skipped']}.")]
    rows = c["rows"]
    blocks.append(Paragraph(
        f"Each claim was declared before it was measured (signbench.claims.declared); effects are paired by seed, "
        f"positive = as the claim says, with a 95% interval ({rows[0]['protocol'] if rows else ''} for the course's "
        "models; see results/claims_ci.md for every protocol)."
    ))
    blocks.append(Table(
        ["claim", "the course's words", "metric", "verdict", "effect", "95% interval"],
        [[r["claim"], r["statement"], r["metric"], r["verdict"], r["effect_mean"],
          f"[{r['ci_low']:+.4f}, {r['ci_high']:+.4f}]"] for r in rows],
    ))
    shutil.copyfile(ctx.path("claims") / "claims_ci.png", ctx.out / "claims.png")
    blocks.append(Image("Forest plot: each claim's effect with its 95% interval (| = smallest effect that counts)",
                        Path("claims.png")))
    return blocks


def overfitting_story(rows: Sequence[Mapping[str, Any]], transfer: Mapping[str, Any] | None) -> list[dict]:
    """Train and validation accuracy per model for :func:`signbench.plots.overfitting_chart`: the course's
    models in order (with the course's printed numbers), then the frozen transfer model of the transfer
    stage (its own task, when the stage ran)."""
    from signbench.models.course import COURSE_PUBLISHED

    by = {r["name"]: r for r in rows}
    story = []
    for name in ("baseline", "regularized", "cnn"):
        if name in by:
            c = COURSE_PUBLISHED.get(name, {})
            story.append({"label": name, "train": by[name].get("train_accuracy"), "val": by[name].get("val_accuracy"),
                          "course_train": c.get("train"), "course_val": c.get("val")})
    t = next((r for r in (transfer or {}).get("rows") or [] if r.get("model") == "transfer"), None)
    story.append({"label": "transfer (own task)", "train": t and t.get("train_accuracy"),
                  "val": t and t.get("val_accuracy")})
    return story


def _best_model_blocks(rows: list[dict], ctx: StageContext, names: list[str]) -> list:
    trained = {r["name"]: r for r in rows if r["name"] != "cnn (best checkpoint)"}
    if not trained:
        return []
    best = max(trained.values(), key=lambda r: r["test_accuracy"] or 0)["name"]
    pred = np.load(ctx.path("tune" if best == "tuned" else f"train-{best}") / "test_pred.npy")
    data = ctx.load_arrays("data", "data")
    y = data["test_labels"]
    plots.confusion_chart(y, pred, names, ctx.out / "confusion.png", title=f"{best} on the test set")
    plots.misclassified_grid(data["test_images"], y, pred, names, ctx.out / "misclassified.png",
                             max_images=ctx.config.profile.misclassified_shown)
    return [
        Heading(f"Best model: {best} (test accuracy {trained[best]['test_accuracy']:.4f})"),
        Image(f"Confusion matrix of {best} (rows: true letter, columns: predicted)", Path("confusion.png")),
        Image(f"Misclassified test images of {best} (true -> predicted)", Path("misclassified.png")),
    ]


# -- the report stage ------------------------------------------------------------------------------
_META = ("date", "seed", "git_commit", "tensorflow", "keras", "litert", "backend", "device", "cpu_flags", "threads",
         "onednn")


def _results_csv(rows: list[dict], meta: dict) -> str:
    """One row per model, our numbers next to the course's, with the run's metadata on every row."""
    from signbench.models.course import COURSE_PUBLISHED

    fields = ["name", "train_accuracy", "val_accuracy", "test_accuracy", "epochs", "seconds", "params",
              "course_train", "course_val", "course_test", *_META]
    out = []
    for r in rows:
        c = COURSE_PUBLISHED.get(r["name"], {})
        out.append({**r, "course_train": c.get("train"), "course_val": c.get("val"), "course_test": c.get("test"),
                    **{k: meta.get(k) for k in _META}})
    return csv_text(out, fields)


def _stage_seconds(ctx: StageContext, names: Sequence[str]) -> dict[str, float]:
    out = {}
    for n in names:
        marker = ctx.run_dir / n / DONE
        if marker.is_file():
            out[n] = round(float(json.loads(marker.read_text())["seconds"]), 1)
    return out


def stage_report(stages: Sequence) -> Any:
    """The report stage's run function for ``stages`` (each with its ``section``)."""

    def run(ctx: StageContext) -> dict:
        from signbench.meta import run_metadata

        results = {}
        for s in stages:  # a run cut off with --until reports what exists
            if s.section is not None and (ctx.run_dir / s.name / DONE).is_file():
                results[s.name] = ctx.result(s.name)
        cfg = ctx.config
        meta = run_metadata(cfg.seed)
        rows = summary_rows(results)
        blocks: list[Any] = [Heading("signbench: reproducing the course", 1), Paragraph(
            f"Run of {meta['date']}, {'quick' if cfg.quick else 'full'} mode, seed {cfg.seed}, git commit "
            f"`{meta['git_commit']}`, TensorFlow {meta['tensorflow']}, Keras {meta['keras']} ({meta['backend']} "
            f"backend) on {meta['device']} (CPU flags: {meta['cpu_flags'] or 'unknown'}) with {meta['threads']} "
            f"threads, oneDNN {meta['onednn']}."
        )]
        blocks += section_data(results["data"], ctx)
        blocks.append(Heading("Results next to the course's published numbers"))
        if "split" in results:
            blocks += section_split(results["split"], ctx)
        blocks.append(results_table(rows))
        story = overfitting_story(rows, results.get("transfer"))
        if any(r["train"] is not None for r in story):
            plots.overfitting_chart(story, ctx.out / "overfitting.png",
                                    title="Train vs validation accuracy: baseline -> regularized -> CNN -> transfer")
            blocks.append(Image("Overfitting: train against validation accuracy per model, the gap shaded "
                                "(hollow squares: the course's printed numbers)", Path("overfitting.png")))
        blocks += _best_model_blocks(rows, ctx, results["data"]["class_names"])
        curves = [b for s in stages if s.section is section_model and s.name in results
                  for b in section_model(results[s.name], ctx)]
        if curves:
            blocks += [Heading("Learning curves"), *curves]
        for s in stages:
            if s.name in results and s.section not in (None, section_data, section_split, section_model):
                blocks += s.section(results[s.name], ctx)
        seconds = _stage_seconds(ctx, [s.name for s in stages])
        if seconds:
            blocks += [Heading("Stage timings"), Table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in seconds.items()]),
                       Paragraph(f"Total before the report: {format_seconds(sum(seconds.values()))}.")]
        out = ctx.out
        atomic_write(out / "report.md", to_markdown(blocks))
        atomic_write(out / "report.html", to_html(blocks, base=out, title="signbench reproduction"))
        atomic_write(out / "results.csv", _results_csv(rows, meta))
        atomic_write_json(out / "results.json", {"metadata": meta, "config": cfg.to_dict(), "models": rows})
        return {"models": rows, "figures": sorted(p.name for p in out.glob("*.png")), "metadata": meta}

    return run


def publish(run_dir: Path) -> list[Path]:
    """Copy the finished report stage's files to the run folder's top level (atomically each)."""
    src = run_dir / "report"
    if not (src / DONE).is_file():
        return []
    written = []
    for name in ("report.html", "results.csv", "results.json"):
        if (src / name).is_file():
            written.append(atomic_write(run_dir / name, (src / name).read_bytes()))
    md = (src / "report.md").read_text()
    md = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", r"![\1](report/\2)", md)  # images live in report/
    written.append(atomic_write(run_dir / "report.md", md))
    return written
