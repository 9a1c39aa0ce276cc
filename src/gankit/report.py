"""`gankit report`: one self-contained HTML page per run (images embedded), or several runs
side by side. It shows whatever the run directory holds: its config, sample grids across
training, loss curves, evaluation scores with their protocols, and the results of the
applications run on it (classification reports, augmentation, completion, attacks, defense,
translation). Rendered with Jinja2, autoescaped."""

from __future__ import annotations

import base64
import json
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from gankit.errors import GankitError
from gankit.extras import require
from gankit.io import atomic_write
from gankit.plots import curves_png
from gankit.runs import MANIFEST, edited_settings

REPORT_FILE = "report.html"
MAX_PROGRESS_GRIDS = 6
# What a folder gankit wrote holds: a trained run's manifest, or a result's own file.
MARKERS = (MANIFEST, "config.yaml", "augment.json")


@dataclass
class Figure:
    title: str
    data_uri: str


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    title: str
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    text: str = ""


@dataclass
class RunReport:
    name: str
    path: str
    sections: list[Section]


def _png(path: Path, title: str | None = None) -> Figure:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return Figure(title or path.stem.replace("_", " "), f"data:image/png;base64,{data}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GankitError(f"{path} is not readable JSON ({err}); rerun what wrote it") from None


def _config(run: Path) -> Section | None:
    path = run / "config.yaml"
    if not path.is_file():
        return None
    values = yaml.safe_load(path.read_text()) or {}
    rows = [[k, _fmt(v)] for k, v in values.items()]
    edits = edited_settings(run)
    text = ("config.yaml was edited after training and does not describe the weights: "
            + "; ".join(edits)) if edits else ""
    return Section("Configuration", text=text,
                   tables=[Table("config.yaml", ["option", "value"], rows)])


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
    if log.is_file():
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if rows:
            figures.append(_png(curves_png(rows, scratch / f"{log.stem}.png"),
                                "training curves"))
    return Section("Training", figures=figures) if figures else None


def _evaluation(run: Path) -> Section | None:
    path = run / "eval.json"
    if not path.is_file():
        return None
    scores = _read_json(path).get("scores", {})
    rows = [[name, _fmt(s.get("value")), _fmt(s.get("std")),
             ", ".join(f"{k}={_fmt(v)}" for k, v in s.get("protocol", {}).items())]
            for name, s in scores.items()]
    return Section("Evaluation", tables=[Table("eval.json", ["metric", "value", "std",
                                                             "protocol"], rows)])


def _recognition(run: Path) -> Section | None:
    path = run / "report.json"
    if not path.is_file():
        return None
    tables = []
    for data, report in _read_json(path).items():
        rows = [[cls, f"{100 * acc:.2f}"] for cls, acc in report["per_class"].items()]
        tables.append(Table(f"{data}: accuracy {100 * report['accuracy']:.2f}% "
                            f"(n={report['n']})", ["class", "accuracy %"], rows))
    figures = [_png(p) for p in sorted(run.glob("confusion_*.png"))]
    return Section("Recognition", figures=figures, tables=tables)


def _applications(run: Path) -> list[Section]:
    sections = []
    if (run / "augment.json").is_file():
        result = _read_json(run / "augment.json")
        rows = [[k, _fmt(v["validation"]["mean"]), _fmt(v["test"]["mean"]),
                 _fmt(v["test"]["ci95"]), _fmt(v["pipeline_minutes"])]
                for k, v in result.get("conditions", {}).items()]
        figures = [_png(run / "augment.png")] if (run / "augment.png").is_file() else []
        figures += [_png(p, p.parent.name) for p in sorted(run.glob("seed*/synthetic.png"))]
        verdict = result.get("verdict", {})
        sections.append(Section("GAN augmentation", figures, [Table(
            "accuracy % over seeds (best conditions chosen by validation)",
            ["condition", "validation", "test", "test 95% interval", "minutes a seed"], rows)],
            text=verdict.get("sentence", "")))
    grids = sorted(run.glob("inpaint/*/grid.png"))
    if grids:
        sections.append(Section("Image completion", [_png(p, p.parent.name) for p in grids],
                                text="rows: masked, completed, original"))
    attacks = sorted(run.glob("attacks/*/attack.json"))
    if attacks:
        keys = ["clean_accuracy", "adversarial_accuracy", "success_rate", "linf_max",
                "l2_mean", "seconds_per_image", "flops_per_image"]
        rows = [[p.parent.name, *[_fmt(_read_json(p).get(k)) for k in keys]] for p in attacks]
        figures = [_png(p.parent / "grid.png", p.parent.name) for p in attacks
                   if (p.parent / "grid.png").is_file()]
        sections.append(Section("Adversarial attacks", figures, [Table(
            "attack.json", ["attack", *keys], rows)]))
    advgans = sorted(run.glob("advgan/*/samples.png"))
    defenses = sorted(run.glob("defend/*/defense.json"))
    if advgans or defenses:
        tables = [Table(p.parent.name, ["case", "accuracy"],
                        [[case, _fmt(v)] for case, v in _read_json(p)["accuracy"].items()])
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


def run_report(run_dir: str | Path, scratch: Path) -> RunReport:
    run = Path(run_dir)
    if not run.is_dir() or not any((run / m).exists() for m in MARKERS):
        raise GankitError(f"{run} is not a gankit run directory (no config.yaml, checkpoint "
                          "or results); pass a folder that gankit wrote")
    parts = [_config(run), _training(run, scratch), _evaluation(run), _recognition(run),
             *_applications(run)]
    return RunReport(run.name, str(run), [p for p in parts if p is not None])


def render(reports: list[RunReport]) -> str:
    jinja2 = require("jinja2", "report")
    return jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(reports=reports)


def write_report(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    """Render one run (or several side by side) into OUT (default RUN_DIR/report.html)."""
    html = render_report(run_dirs)
    target = Path(out) if out else Path(run_dirs[0]) / REPORT_FILE
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
        if not run_dir.is_dir():
            raise GankitError(f"{run_dir} is not a gankit run directory (not a folder); name "
                              "the run's folder")
    # a private scratch folder: concurrent reports of one run never share figure files
    with tempfile.TemporaryDirectory(prefix="gankit-report-") as scratch:
        reports = [run_report(r, Path(scratch)) for r in run_dirs]
    if shown is not None:
        reports = [replace(r, path=p) for r, p in zip(reports, shown, strict=True)]
    return render(reports)


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gankit report: {{ reports | map(attribute='name') | join(' vs ') }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
.runs { display: grid; gap: 2rem;
        grid-template-columns: repeat({{ reports | length }}, minmax(0, 1fr)); }
h2 { border-bottom: 1px solid #ccc; } h3 { margin-top: 1.5rem; }
figure { display: inline-block; margin: .4rem; vertical-align: top; }
figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: .8rem; color: #555; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
.path { color: #777; font-size: .85rem; }
</style></head><body>
<h1>gankit report</h1>
<div class="runs">
{% for run in reports %}<section>
<h2>{{ run.name }}</h2><div class="path">{{ run.path }}</div>
{% for section in run.sections %}<h3>{{ section.title }}</h3>
{% if section.text %}<p>{{ section.text }}</p>{% endif %}
{% for table in section.tables %}<table><caption>{{ table.title }}</caption>
<tr>{% for h in table.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in table.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}
{% for fig in section.figures %}<figure><img src="{{ fig.data_uri }}" alt="{{ fig.title }}">
<figcaption>{{ fig.title }}</figcaption></figure>{% endfor %}
{% endfor %}</section>
{% endfor %}</div></body></html>
"""
