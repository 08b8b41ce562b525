"""The report stage: gather every finished stage's results and draw the report's charts."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from signbench.atomic import atomic_write
from signbench.reproduce import report as rep
from signbench.reproduce.runner import StageContext, atomic_write_json, format_seconds

__all__ = ["build_report", "publish", "summary_rows"]


def summary_rows(results: dict[str, dict]) -> list[dict[str, Any]]:
    """One row per trained model, plus the CNN's best checkpoint, in report order."""
    rows = []
    for key in ("train-baseline", "train-regularized", "train-cnn"):
        r = results.get(key)
        if r:
            rows.append({k: r.get(k) for k in ("name", "train_accuracy", "val_accuracy", "test_accuracy",
                                               "epochs", "seconds", "params")})
            if r["name"] == "cnn" and r.get("best_checkpoint"):
                b = r["best_checkpoint"]
                rows.append({"name": "cnn (best checkpoint)", "train_accuracy": None,
                             "val_accuracy": b.get("val_accuracy"), "test_accuracy": b.get("test_accuracy"),
                             "epochs": b.get("epoch"), "seconds": None, "params": r.get("params")})
    t = results.get("tune")
    if t:
        rows.append({k: t.get(k) for k in ("name", "train_accuracy", "val_accuracy", "test_accuracy",
                                           "epochs", "seconds", "params")})
    return rows


def _stage_results(ctx: StageContext, names) -> dict[str, dict]:
    out = {}
    for n in names:
        try:
            out[n] = ctx.result(n)
        except Exception:  # noqa: BLE001 - a stage cut off with --until: report what exists
            continue
    return out


def build_report(ctx: StageContext) -> dict:
    from signbench.meta import run_metadata
    from signbench.reproduce.stages import MODELS, STAGE_NAMES, _load_arrays

    results = _stage_results(ctx, [n for n in STAGE_NAMES if n != "report"])
    out = ctx.out
    cfg = ctx.config
    names = results["data"]["class_names"]
    meta = run_metadata(cfg["seed"])
    blocks: list[Any] = [rep.Heading("signbench: reproducing the course", 1)]
    d = results["data"]
    mode = "quick" if cfg.get("quick") else "full"
    blocks.append(rep.Paragraph(
        f"Run of {meta['date']}, {mode} mode, seed {cfg['seed']}, git commit `{meta['git_commit']}`, "
        f"TensorFlow {meta['tensorflow']}, Keras {meta['keras']} ({meta['backend']} backend) on "
        f"{meta['device']} with {meta['threads']} threads."
    ))
    verified = "SHA-256 verified against the published files" if d.get("verified") else "not hash-verified"
    blocks.append(rep.Paragraph(
        f"Data ({d['origin']}, {d['kind']}): {d['train']} train"
        + (f" (a stratified subsample of {d['train_full']})" if d.get("train_full", d["train"]) != d["train"] else "")
        + f" and {d['test']} test images of shape "
        f"{tuple(d['image_shape'])}, {d['num_classes']} classes; {verified}."
    ))
    # -- results table
    rows = summary_rows(results)
    blocks.append(rep.Heading("Results next to the course's published numbers"))
    if "split" in results:
        s = results["split"]
        blocks.append(rep.Paragraph(
            f"Trained on {s['train']} images; validation = a seeded, stratified 20% of the test set ({s['val']} images) "
            f"(the course's protocol); test = all {s['test']} test images."
        ))
    blocks.append(rep.results_table(rows))
    # -- learning curves
    curves = []
    for key in [f"train-{m}" for m in MODELS] + ["tune"]:
        if key in results:
            src = ctx.path(key) / "learning_curves.png"
            dst = out / f"curves-{results[key]['name']}.png"
            shutil.copyfile(src, dst)
            curves.append(rep.Image(f"Learning curves: {results[key]['name']}", Path(dst.name)))
    if curves:
        blocks.append(rep.Heading("Learning curves"))
        blocks.extend(curves)
    # -- best model: confusion matrix and misclassified images
    trained = {r["name"]: r for r in rows if r["name"] in (*MODELS, "tuned")}
    if trained:
        best = max(trained.values(), key=lambda r: r["test_accuracy"] or 0)["name"]
        stage = "tune" if best == "tuned" else f"train-{best}"
        pred = np.load(ctx.path(stage) / "test_pred.npy")
        data = _load_arrays(ctx.path("data") / "data.npz")
        y = data["test_labels"]
        blocks.append(rep.Heading(f"Best model: {best} (test accuracy {trained[best]['test_accuracy']:.4f})"))
        rep.confusion_chart(y, pred, names, out / "confusion.png", title=f"{best} on the test set")
        blocks.append(rep.Image(f"Confusion matrix of {best} (rows: true letter, columns: predicted)",
                                Path("confusion.png")))
        rep.misclassified_grid(data["test_images"], y, pred, names, out / "misclassified.png",
                               max_images=cfg["profile"]["misclassified_shown"])
        blocks.append(rep.Image(f"Misclassified test images of {best} (true -> predicted)",
                                Path("misclassified.png")))
    # -- data
    if "explore" in results:
        e = results["explore"]
        blocks.append(rep.Heading("Data: class balance and leakage"))
        shutil.copyfile(ctx.path("explore") / "class_balance.png", out / "class_balance.png")
        ratio = e.get("imbalance_ratio")
        blocks.append(rep.Paragraph(
            f"Largest/smallest train class: {ratio:.2f}. Leakage check (exact images shared by train "
            f"and test): {_leak_text(e.get('leakage', {}))}."
        ))
        blocks.append(rep.Image("Train class balance", Path("class_balance.png")))
    if "clean" in results:
        c = results["clean"]
        blocks.append(rep.Heading("Cleaning"))
        blocks.append(rep.Paragraph(
            f"`signbench.clean` kept {c['rows_in'] and c['rows_out']} of {c['rows_in']} train rows; dropped "
            + ", ".join(f"{k} {v}" for k, v in c["dropped"].items()) + "."
        ))
    # -- tuning
    if "tune" in results:
        t = results["tune"]
        b = t["budget"]
        blocks.append(rep.Heading("Tuning (Hyperband)"))
        blocks.append(rep.Paragraph(
            f"{'Full' if b['full'] else 'Small'} budget: max_epochs {b['max_epochs']}, factor {b['factor']}, "
            f"{b['train_images']} training images, {len(t['trials'])} trials (all COMPLETED). Best "
            f"hyperparameters {t['best_hyperparameters']} (search val accuracy {t['best_score']:.4f})."
        ))
        blocks.append(rep.Table(
            ["trial", "status", "val accuracy", "units", "learning rate"],
            [[tr["trial_id"], tr["status"], tr["score"], tr["hyperparameters"].get("units"),
              tr["hyperparameters"].get("learning_rate")] for tr in t["trials"]],
        ))
    # -- save / reload
    if "save-reload" in results:
        s = results["save-reload"]
        blocks.append(rep.Heading(f"Save and reload ({s['model']})"))
        blocks.append(rep.Table(
            ["format", "file", "bytes", "max abs diff", "same predictions", "note"],
            [[r["format"], r["file"], r["bytes"], r["max_abs_diff"], r["same_predictions"], r["note"]]
             for r in s["rows"]],
        ))
    # -- transfer
    if "transfer" in results:
        blocks.append(rep.Heading("Transfer learning"))
        blocks.extend(_transfer_blocks(results["transfer"]))
    # -- deploy
    if "deploy" in results:
        dep = results["deploy"]
        blocks.append(rep.Heading("Deployment: accuracy and one-image latency per model and runtime"))
        blocks.append(rep.Paragraph(
            f"p50 of {dep['latency_runs']} single-image calls after one warm-up, {dep['threads']} threads. "
            f"{dep['note']}."
        ))
        blocks.append(rep.Table(
            ["model", "runtime", "test accuracy", "p50 latency (ms)", "size (bytes)"],
            [[r["model"], r["runtime"], r["accuracy"], f"{r['latency_ms']:.3g}", r["bytes"]] for r in dep["rows"]],
        ))
        rep.accuracy_latency_chart(dep["rows"], out / "accuracy_latency.png",
                                   title="Test accuracy vs one-image latency")
        blocks.append(rep.Image("Accuracy vs latency per model and runtime", Path("accuracy_latency.png")))
    # -- timings
    seconds = _stage_seconds(ctx)
    if seconds:
        blocks.append(rep.Heading("Stage timings"))
        blocks.append(rep.Table(["stage", "seconds"], [[k, f"{v:.1f}"] for k, v in seconds.items()]))
        blocks.append(rep.Paragraph(f"Total before the report: {format_seconds(sum(seconds.values()))}."))
    atomic_write(out / "report.md", rep.to_markdown(blocks))
    atomic_write(out / "report.html", rep.to_html(blocks, base=out, title="signbench reproduction"))
    atomic_write(out / "results.csv", _csv(rows, meta))
    atomic_write_json(out / "results.json", {"metadata": meta, "config": dict(cfg), "models": rows})
    figures = sorted(p.name for p in out.glob("*.png"))
    return {"models": rows, "figures": figures, "metadata": meta}


def _leak_text(leak: dict) -> str:
    if not leak:
        return "not run"
    return (
        f"{leak['leaked_test_images']} test images ({leak['leaked_fraction']:.1%}) also appear in train, "
        f"{leak['label_conflicts']} of them with another label; exact duplicates within train "
        f"{leak['train_duplicates']}, within test {leak['test_duplicates']}"
    )


def _transfer_blocks(t: dict) -> list:
    rows = t.get("rows") or []
    blocks: list[Any] = []
    if t.get("summary"):
        blocks.append(rep.Paragraph(str(t["summary"])))
    if rows:
        headers = list(rows[0])
        blocks.append(rep.Table(headers, [[r.get(h) for h in headers] for r in rows]))
    if not blocks:
        blocks.append(rep.Paragraph(", ".join(f"{k}: {v}" for k, v in t.items() if not isinstance(v, dict | list))))
    return blocks


def _stage_seconds(ctx: StageContext) -> dict[str, float]:
    import json

    from signbench.reproduce.stages import STAGE_NAMES

    out = {}
    for n in STAGE_NAMES:
        marker = ctx.run_dir / n / "done.json"
        if marker.is_file():
            out[n] = round(float(json.loads(marker.read_text())["seconds"]), 1)
    return out


_META = ("date", "seed", "git_commit", "tensorflow", "keras", "litert", "backend", "device", "threads")


def _csv(rows: list[dict], meta: dict) -> str:
    """One row per model, our numbers next to the course's, with the run's metadata on every row."""
    buf = io.StringIO()
    fields = ["name", "train_accuracy", "val_accuracy", "test_accuracy", "epochs", "seconds", "params",
              "course_train", "course_val", "course_test", *_META]
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        c = rep.COURSE.get(r["name"], {})
        w.writerow({**{k: r.get(k) for k in fields[:7]}, "course_train": c.get("train"),
                    "course_val": c.get("val"), "course_test": c.get("test"), **{k: meta.get(k) for k in _META}})
    return buf.getvalue()


def publish(run_dir: Path) -> list[Path]:
    """Copy the finished report stage's files to the run folder's top level (atomically each)."""
    src = run_dir / "report"
    if not (src / "done.json").is_file():
        return []
    written = []
    for name in ("report.html", "results.csv", "results.json"):
        if (src / name).is_file():
            written.append(atomic_write(run_dir / name, (src / name).read_bytes()))
    md = (src / "report.md").read_text()
    # images live in report/; point the top-level markdown at them
    import re

    md = re.sub(r"!\[([^\]]*)\]\(([^)/]+\.png)\)", r"![\1](report/\2)", md)
    written.append(atomic_write(run_dir / "report.md", md))
    return written
