"""Result tables: printed as text, written as Markdown and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Table:
    case: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: failed expectations (exactly one winner, each timer fired once, ...): they fail the run
    failures: list[str] = field(default_factory=list)

    def add(self, *row: Any) -> None:
        self.rows.append(list(row))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def as_text(table: Table) -> str:
    cells = [table.columns] + [[cell(v) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.columns))]
    lines = [f"== {table.title}"]
    for index, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if index else c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"   {note}" for note in table.notes]
    lines += [f"   FAILED: {failure}" for failure in table.failures]
    return "\n".join(lines)


def as_markdown(table: Table) -> str:
    lines = [f"#### {table.title}", "", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(cell(v) for v in row) + " |")
    if table.notes or table.failures:
        lines.append("")
    lines += [f"- {note}" for note in table.notes]
    lines += [f"- **FAILED**: {failure}" for failure in table.failures]
    return "\n".join(lines) + "\n"


def write(tables: list[Table], *, markdown: Path | None, json_path: Path | None, header: str = "") -> None:
    if markdown is not None:
        markdown.write_text(header + "\n".join(as_markdown(t) for t in tables), encoding="utf-8")
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(t) for t in tables], indent=2, default=str), encoding="utf-8")
