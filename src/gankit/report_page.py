"""The report page: the sections a report is made of, how their cells are written, and the HTML
they render to (Jinja2, autoescaped; images embedded as data URIs, so the page is one file)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.extras import require


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and value and all(isinstance(v, int | float) for v in value):
        return "[" + ", ".join(map(fmt, value)) + "]"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise GankitError(f"{path} is not readable JSON ({err}); rerun what wrote it") from None


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


def render(reports: list[RunReport], compared: Section | None = None) -> str:
    jinja2 = require("jinja2", "report")
    return jinja2.Environment(autoescape=True).from_string(TEMPLATE).render(
        reports=reports, compared=compared)


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
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; display: block;
        max-width: 100%; overflow-x: auto; }
caption { text-align: left; font-weight: 600; }
td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left;
         overflow-wrap: anywhere; }
.path { color: #777; font-size: .85rem; }
</style></head><body>
<h1>gankit report</h1>
{% macro tables(section) %}{% if section.text %}<p>{{ section.text }}</p>{% endif %}
{% for table in section.tables %}<table id="{{ table.title | replace(' ', '-') }}">
<caption>{{ table.title }}</caption>
<tr>{% for h in table.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in table.rows %}<tr>{% for cell in row %}<td>{{ cell }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endfor %}{% endmacro %}
{% if compared %}<section class="comparison"><h2>{{ compared.title }}</h2>
{{ tables(compared) }}</section>{% endif %}
<div class="runs">
{% for run in reports %}<section>
<h2>{{ run.name }}</h2><div class="path">{{ run.path }}</div>
{% for section in run.sections %}<h3>{{ section.title }}</h3>
{{ tables(section) }}
{% for fig in section.figures %}<figure><img src="{{ fig.data_uri }}" alt="{{ fig.title }}">
<figcaption>{{ fig.title }}</figcaption></figure>{% endfor %}
{% endfor %}</section>
{% endfor %}</div></body></html>
"""
