"""`gankit report`: one self-contained HTML page per run (images embedded), or several runs
side by side. It shows whatever the run directory holds: its config, sample grids across
training, loss curves, evaluation scores with their protocols, and the results of the
applications run on it (classification reports, augmentation, completion, attacks, defense,
translation). Rendered with Jinja2, autoescaped."""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.io import atomic_write, read_yaml
from gankit.plots import curves_png
from gankit.report_benchmark import benchmark_report, flatten
from gankit.report_page import Figure, RunReport, Section, Table, fmt, read_json, render
from gankit.runs import MANIFEST, edited_settings, read_record

REPORT_FILE = "report.html"
MAX_PROGRESS_GRIDS = 6
# What a folder gankit wrote holds: a trained run's manifest, or a result's own file.
MARKERS = (MANIFEST, "config.yaml", "augment.json")


def _png(path: Path, title: str | None = None) -> Figure:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(title or path.stem.replace("_", " "), f"data:image/png;base64,{data}")


def _config(run: Path) -> Section | None:
    path = run / "config.yaml"
    if not path.is_file():
        return None
    values = read_config(run)
    rows = [[k, fmt(v)] for k, v in values.items() if not _empty(v)]
    edits = edited_settings(run)
    notes = [f"{len(values) - len(rows)} options without a value are not shown."]
    if edits:
        notes.insert(0, "config.yaml was edited after training and does not describe the "
                        "weights: " + "; ".join(edits) + ".")
    return Section("Configuration", text=" ".join(notes),
                   tables=[Table("config.yaml", ["option", "value"], rows)])


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def read_config(run: Path) -> dict[str, Any]:
    path = run / "config.yaml"
    values = read_yaml(path, "run config") if path.is_file() else {}
    return values if isinstance(values, dict) else {}


RECORD_SHOWN = ("gankit", "commit", "torch", "python", "cpu", "cpu_capability", "amx",
                "avx512_bf16", "cores", "cuda", "started", "saved")


def _record(run: Path) -> Section | None:
    record = read_record(run)
    if not record:
        return None
    rows = [[k, fmt(record[k])] for k in RECORD_SHOWN if record.get(k) is not None]
    text = ""
    with contextlib.suppress(KeyError, ValueError):
        span = (datetime.fromisoformat(record["saved"])
                - datetime.fromisoformat(record["started"])).total_seconds()
        text = (f"{span / 60:.1f} minutes from the first save to the last (pauses between "
                "resumes included).")
    return Section("Run record", tables=[Table("run.json", ["field", "value"], rows)], text=text)


def _training(run: Path, scratch: Path) -> Section | None:
    figures = []
    steps = sorted((run / "samples").glob("step_*.png"))
    if len(steps) > MAX_PROGRESS_GRIDS:  # evenly spaced, always with the last
        picks = [round(i * (len(steps) - 1) / (MAX_PROGRESS_GRIDS - 1))
                 for i in range(MAX_PROGRESS_GRIDS)]
        steps = [steps[i] for i in picks]
    figures += [_png(p, "step " + p.stem.removeprefix("step_").lstrip("0")) for p in steps]
    if (run / "samples.png").is_file():
        figures.append(_png(run / "samples.png", "final samples"))
    log = run / "metrics.jsonl"
    tables = []
    if log.is_file():
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        scalars = [r for r in rows if "event" not in r]
        if scalars:
            figures.append(_png(curves_png(scalars, scratch / f"{log.stem}.png"),
                                "training curves"))
        events = [r for r in rows if "event" in r]
        if events:
            tables.append(Table("training events (metrics.jsonl)",
                                ["event", "back to step", "seen at step", "what was seen",
                                 "learning rates ×"],
                                [[e["event"], fmt(e["step"]), fmt(e.get("detected_at")),
                                  str(e.get("reason", "")), fmt(e.get("lr_scale"))]
                                 for e in events]))
    if not (figures or tables):
        return None
    return Section("Training", figures=figures, tables=tables)


def _evaluation(run: Path) -> Section | None:
    path = run / "eval.json"
    if not path.is_file():
        return None
    scores = read_json(path).get("scores", {})
    rows = [[name, fmt(s.get("value")), fmt(s.get("std")), _protocol(s.get("protocol", {}))]
            for name, s in scores.items()]
    figures = []
    if (run / "memorization_pairs.png").is_file():
        figures.append(_png(run / "memorization_pairs.png", "memorisation: the 16 generated "
                            "images closest to a training image (top row) and those training "
                            "images (bottom row)"))
    text = ("Each score's full protocol (extractor, weights, resize, seed) is in eval.json; "
            "scores compare only under one protocol.")
    if "generalization" in scores:
        from gankit.metrics.evaluate import generalization_sentence

        text = generalization_sentence(scores["generalization"]) + " " + text
    return Section("Evaluation", figures, [Table("eval.json", ["metric", "value", "std",
                                                              "images, reference"], rows)],
                   text=text)


def _protocol(protocol: dict[str, Any]) -> str:
    n = "/".join(str(protocol[k]) for k in ("n_real", "n_generated") if k in protocol)
    return ", ".join(part for part in (n and f"n {n}", fmt(protocol.get("reference"))) if part)


def _recognition(run: Path) -> Section | None:
    path = run / "report.json"
    if not path.is_file():
        return None
    tables = []
    for data, report in read_json(path).items():
        rows = [[cls, f"{100 * acc:.2f}"] for cls, acc in report["per_class"].items()]
        tables.append(Table(f"{data}: accuracy {100 * report['accuracy']:.2f}% "
                            f"(n={report['n']})", ["class", "accuracy %"], rows))
    figures = [_png(p) for p in sorted(run.glob("confusion_*.png"))]
    return Section("Recognition", figures=figures, tables=tables)


def _applications(run: Path) -> list[Section]:
    sections = []
    if (run / "augment.json").is_file():
        result = read_json(run / "augment.json")
        rows = [[k, f"{v['validation']['mean']:.2f}", f"{v['test']['mean']:.2f}",
                 _interval(v["test"].get("ci95")), fmt(v["pipeline_minutes"])]
                for k, v in result.get("conditions", {}).items()]
        figures = [_png(run / "augment.png")] if (run / "augment.png").is_file() else []
        figures += [_png(p, f"{p.parent.name}: GAN images, one row per class")
                    for p in sorted(run.glob("seed*/synthetic.png"))]
        verdict = result.get("verdict", {})
        tables = [Table("accuracy % over seeds (best conditions chosen by validation)",
                        ["condition", "validation", "test", "test 95% interval",
                         "minutes a seed"], rows)]
        if "gain" in verdict:
            gains = [[f"{verdict['best_gan']} − {verdict['best_baseline']}",
                      f"{verdict['gain']:+.2f}", _interval(verdict.get("gain_ci95"), signed=True)]]
            if "gan_over_distilled" in verdict:
                other = verdict["gan_over_distilled"]
                gains.append(["gan − distilled", f"{other['mean']:+.2f}",
                              _interval(other.get("ci95"), signed=True)])
            tables.append(Table("test accuracy gain, points, paired by seed",
                                ["comparison", "gain", "95% interval"], gains))
        pool = _pool_confusion(result.get("seeds", []))
        tables += [pool] if pool else []
        sections.append(Section("GAN augmentation", figures, tables,
                                text=verdict.get("sentence", "")))
    grids = sorted(run.glob("inpaint/*/grid.png"))
    if grids:
        sections.append(Section("Image completion", [_png(p, p.parent.name) for p in grids],
                                text="rows: masked, completed, original"))
    attacks = sorted(run.glob("attacks/*/attack.json"))
    if attacks:
        keys = ["clean_accuracy", "adversarial_accuracy", "success_rate", "linf_max",
                "l2_mean", "seconds_per_image", "flops_per_image"]
        rows = [[p.parent.name, *[fmt(read_json(p).get(k)) for k in keys]] for p in attacks]
        figures = [_png(p.parent / "grid.png", p.parent.name) for p in attacks
                   if (p.parent / "grid.png").is_file()]
        sections.append(Section("Adversarial attacks", figures, [Table(
            "attack.json", ["attack", *keys], rows)], text=" ".join(_robustness(attacks))))
    advgans = sorted(run.glob("advgan/*/samples.png"))
    defenses = sorted(run.glob("defend/*/defense.json"))
    if advgans or defenses:
        tables = [Table(p.parent.name, ["case", "accuracy"],
                        [[case, fmt(v)] for case, v in read_json(p)["accuracy"].items()])
                  for p in defenses]
        figures = [_png(p, f"AdvGAN {p.parent.name}: original, perturbation, adversarial")
                   for p in advgans]
        figures += [_png(p.parent / "grid.png", p.parent.name) for p in defenses
                    if (p.parent / "grid.png").is_file()]
        sections.append(Section("AdvGAN and defenses", figures, tables))
    translated = sorted(run.glob("translated/*/grid.png"))
    if translated:
        sections.append(Section("Translation", [_png(p, p.parent.name) for p in translated],
                                text="rows alternate: input, translation"))
    return sections


def _pool_confusion(seeds: list[dict[str, Any]]) -> Table | None:
    """The GAN pools of all seeds as the real-data recogniser reads them: per class the GAN
    was asked for, the share (%) read as each class; the diagonal is agreement."""
    read = [s["pool_read_as"] for s in seeds if "pool_read_as" in s]
    if not read:
        return None
    classes = read[0]["classes"]
    counts = [[sum(r["counts"][i][j] for r in read) for j in range(len(classes))]
              for i in range(len(classes))]
    rows = [[name, *[f"{100 * c / max(sum(row), 1):.1f}" for c in row]]
            for name, row in zip(classes, counts, strict=True)]
    return Table(f"GAN pool read by the real-data recogniser, % of each asked class "
                 f"({len(read)} seed{'s' * (len(read) != 1)}; rows: asked, columns: read as)",
                 ["asked \\ read as", *classes], rows)


def _directions(run: Path) -> Section | None:
    """`gankit explore`'s strips and what each direction measured."""
    path = run / "explore" / "explore.json"
    if not path.is_file():
        return None
    result = read_json(path)
    figures, tables = [], []
    for method, found in result.get("methods", {}).items():
        strip = run / "explore" / f"{method}.png"
        if strip.is_file():
            figures.append(_png(strip, f"{method}: one direction a row"))
        rows = []
        for r in found["directions"]:
            biggest = max(r["stat_change"], key=lambda k: abs(r["stat_change"][k]))
            rows.append([f"{method} {r['index']}", fmt(r["change"]), fmt(r["class_kept"]),
                         fmt(r["crossed_into"]), f"{biggest} {r['stat_change'][biggest]:+.3g}"])
        tables.append(Table(f"{method}: {found['share_keep_class_and_change']:.0%} keep the "
                            "class while changing the image more than a random direction",
                            ["direction", "RMS change", "class kept", "crossed into",
                             "largest statistic change"], rows))
    return Section("Latent directions", figures, tables,
                   text=f"Random directions change images by {result['random_change_median']:.3g} "
                        "(RMS, median); walks and numbers in explore/explore.json.")


def _saliency(run: Path) -> Section | None:
    """`gankit saliency`: the attribution maps and each network's share on the ink."""
    path = run / "saliency" / "saliency.json"
    if not path.is_file():
        return None
    result = read_json(path)
    figure = run / "saliency" / "saliency.png"
    rows = [[key, f"{share:.0%}"] for key, share in result["ink_share"].items()]
    return Section("Saliency", [_png(figure, "rows: images, then each network's map")]
                   if figure.is_file() else [],
                   [Table("share of the attribution on the ink", ["images/network/method",
                                                                   "on the ink"], rows)])


def _robustness(attacks: list[Path]) -> list[str]:
    """One verdict per budget and image count the untargeted attacks were run at."""
    from gankit.adversarial.verdict import robustness_verdict  # the package imports torch
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for path in attacks:
        result = read_json(path)
        if result.get("target") is None:
            key = (result["norm"], result["eps"], result["n"])
            groups.setdefault(key, {})[path.parent.name] = result
    return [robustness_verdict(group)["sentence"] for _, group in sorted(groups.items())]


def _interval(ci: list[float] | None, signed: bool = False) -> str:
    form = "+.2f" if signed else ".2f"
    return "" if not ci else f"[{ci[0]:{form}}, {ci[1]:{form}}]"


def run_report(run_dir: str | Path, scratch: Path) -> RunReport:
    run = Path(run_dir)
    if run.is_file() and run.suffix == ".json":
        return benchmark_report(run)
    if not run.is_dir() or not any((run / m).exists() for m in MARKERS):
        raise GankitError(f"{run} is not a gankit run directory (no config.yaml, checkpoint "
                          "or results); pass a folder that gankit wrote")
    parts = [_record(run), _config(run), _training(run, scratch), _evaluation(run),
             _directions(run), _saliency(run), _recognition(run), *_applications(run)]
    return RunReport(run.name, str(run), [p for p in parts if p is not None])


def headline_numbers(run: Path) -> dict[str, str]:
    """Every score a run holds, by name: evaluation scores, accuracies, the augmentation gain
    and the steps trained; of a benchmark's result file, its headline numbers."""
    if run.is_file():
        return {k: fmt(v) for k, v in flatten(read_json(run).get("headline", {}))}
    numbers = {}
    if (run / "eval.json").is_file():
        for name, score in read_json(run / "eval.json").get("scores", {}).items():
            numbers[name] = fmt(score.get("value"))
    if (run / "report.json").is_file():
        for data, report in read_json(run / "report.json").items():
            numbers[f"accuracy % ({data})"] = f"{100 * report['accuracy']:.2f}"
    if (run / "augment.json").is_file():
        verdict = read_json(run / "augment.json").get("verdict", {})
        if "gain" in verdict:
            numbers["augment gain, points"] = (f"{verdict['gain']:+.2f} "
                                               f"{_interval(verdict.get('gain_ci95'), True)}")
    log = run / "metrics.jsonl"
    if log.is_file():
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        if lines:
            numbers["steps trained"] = str(json.loads(lines[-1]).get("step", ""))
    return numbers


def comparison(runs: list[Path]) -> Section:
    """The runs' scores in one table, a cell flagged where a score's protocol differs from the
    first run's, and the options in which their configs differ."""
    from gankit.metrics.evaluate import protocol_differences

    names = [run.name for run in runs]
    numbers = [headline_numbers(run) for run in runs]
    protocols = [(read_json(run / "eval.json").get("scores", {})
                  if (run / "eval.json").is_file() else {}) for run in runs]
    metrics = list(dict.fromkeys(name for n in numbers for name in n))
    rows = []
    for metric in metrics:
        first = next((p[metric]["protocol"] for p in protocols if metric in p), None)
        row = [metric]
        for n, p in zip(numbers, protocols, strict=True):
            cell = n.get(metric, "")
            differ = (protocol_differences(first, p[metric]["protocol"])
                      if metric in p and first is not None else [])
            row.append(cell + (f" (protocol differs: {', '.join(differ)})" if differ else ""))
        rows.append(row)
    configs = [read_config(run) for run in runs]
    options = list(dict.fromkeys(k for c in configs for k in c))
    diff = [[k, *[fmt(c.get(k)) for c in configs]] for k in options
            if len({fmt(c.get(k)) for c in configs}) > 1]
    tables = [Table("scores", ["metric", *names], rows)] if rows else []
    tables.append(Table("options that differ", ["option", *names], diff))
    text = "" if rows else "No run holds a score yet (gankit eval, classify eval). "
    text += "" if diff else "The configs are the same."
    return Section("Comparison", tables=tables, text=text.strip())


def write_report(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """Render one run (or several side by side) into OUT (default RUN_DIR/report.html, or
    NAME.html beside a benchmark's NAME.json)."""
    html = render_report(run_dirs)
    first = Path(run_dirs[0])
    target = Path(out) if out else (first.with_suffix(".html") if first.is_file()
                                    else first / REPORT_FILE)
    if target.is_dir():
        raise GankitError(f"--out {target} is a folder; pass the path of an HTML file to write")
    atomic_write(target, html.encode())
    return target


def render_report(run_dirs: list[str | Path], shown: list[str] | None = None) -> str:
    """The report of one run (or several side by side) as HTML, writing nothing; `shown`
    replaces the runs' paths on the page (the web app shows paths inside its runs folder)."""
    if not run_dirs:
        raise GankitError("name at least one run directory")
    for run_dir in map(Path, run_dirs):
        if not run_dir.is_dir() and not (run_dir.is_file() and run_dir.suffix == ".json"):
            raise GankitError(f"{run_dir} is not a gankit run directory (not a folder); name "
                              "the run's folder or a benchmark's result JSON")
    # a private scratch folder: concurrent reports of one run never share figure files
    with tempfile.TemporaryDirectory(prefix="gankit-report-") as scratch:
        reports = [run_report(r, Path(scratch)) for r in run_dirs]
    if shown is not None:
        reports = [replace(r, path=p) for r, p in zip(reports, shown, strict=True)]
    return render(reports, comparison(list(map(Path, run_dirs))) if len(run_dirs) > 1 else None)
