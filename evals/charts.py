"""The eval and bench pages: Jinja2 templates in ``evals/templates/`` and matplotlib charts saved as
SVG and inlined in the page (text stays text; no external fonts, styles or scripts), so a page is
one file that opens with no network. Chart output is deterministic for the same data. jinja2 and
matplotlib come with the ``eval`` extra and are imported on first use."""
from __future__ import annotations

import io
import math
import re
from html import escape
from pathlib import Path

from evals.compare import is_num

COLOURS = ("#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#e11d48", "#0ea5e9", "#64748b")
STYLE = {"svg.fonttype": "none", "svg.hashsalt": "newsdesk", "font.family": "sans-serif",
         "font.sans-serif": ["DejaVu Sans"], "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "axes.edgecolor": "#94a3b8", "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#e2e8f0",
         "axes.axisbelow": True, "axes.titlesize": 10, "axes.titleweight": "bold", "legend.frameon": False,
         "xtick.color": "#475569", "ytick.color": "#475569", "axes.labelcolor": "#475569"}


TEMPLATES = Path(__file__).parent / "templates"


def render_page(template: str, **context) -> str:
    """Render one page template; every value from the data is HTML-escaped, charts are trusted SVG."""
    from jinja2 import Environment, FileSystemLoader
    from markupsafe import Markup

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["svg"] = Markup
    return env.get_template(template).render(**context)


def _figure(size: tuple[float, float]):
    """A figure and its axes, outside pyplot (no backend, nothing to close)."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(STYLE)
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def to_svg(fig, label: str) -> str:
    """The figure as an ``<svg>`` element for an HTML page, labelled for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg"):], flags=re.S)
    text = re.sub(r'\s(xmlns(:xlink)?|version)="[^"]*"', "", text)  # inline SVG needs no namespaces
    text = re.sub(r'\sid="[\w.]+_\d+"', "", text)  # figure_1, axes_1...: unused, and repeated across charts
    text = re.sub(r"\s*\n\s*", " ", text).replace("> <", "><").strip()  # one line: path data ignores line breaks
    return text.replace("<svg", f'<svg class="chart" role="img" aria-label="{escape(label)}"', 1)


def pct(v) -> str:
    return f"{v * 100:.0f}%" if is_num(v) else "–"


def ms(v) -> str:
    """800 -> "800 ms", 1500 -> "1.5 s"."""
    return "–" if not is_num(v) else f"{v / 1000:.3g} s" if v >= 1000 else f"{v:.3g} ms"


def _nan(values) -> list[float]:
    return [float(v) if is_num(v) else math.nan for v in values]


def _axes(ax, series, label: str, fmt, log: bool, ylim, legend: dict, **text) -> str:
    """What bars and lines share: the y scale (log, or from ``ylim[0]`` to at least ``ylim[1]`` with
    headroom over the data), value-formatted ticks, titles, a legend for two series or more."""
    if log:
        ax.set_yscale("log")
    elif ylim:
        ax.set_ylim(ylim[0], max([ylim[1]] + [v * 1.15 for _, vs in series for v in vs if is_num(v)]))
    ax.yaxis.set_major_formatter(lambda v, _: fmt(v))
    ax.set(**text)
    if len(series) > 1:
        ax.legend(**legend)
    return to_svg(ax.figure, label)


def bars(categories: list[str], series: list[tuple[str, list]], label: str, *, fmt=pct, ylabel: str = "",
         log: bool = False, ylim: tuple | None = (0, 1.08), size=(11, 3.2), colours=COLOURS,
         counts: bool = False, title: str = "") -> str:
    """Grouped bars with their values written on top; a missing value is a "–" on the axis.
    ``counts``: whole-number ticks and no label on an empty bar."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(size)
    width = min(0.8 / max(1, len(series)), 0.5)
    for j, (name, values) in enumerate(series):
        xs = [i + (j - (len(series) - 1) / 2) * width for i in range(len(categories))]
        drawn = ax.bar(xs, _nan(values), width * 0.9, label=name, color=colours[j % len(colours)])
        ax.bar_label(drawn, labels=["" if counts and v == 0 else fmt(v) if is_num(v) else "–" for v in values],
                     padding=2, fontsize=8, color="#334155")
    ax.set_xticks(range(len(categories)), categories)
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    legend = {"loc": "upper left", "bbox_to_anchor": (1.01, 1)} if title else \
        {"loc": "lower left", "bbox_to_anchor": (0, 1.02), "ncols": len(series)}  # beside a title, or above
    return _axes(ax, series, label, fmt, log, ylim, legend, ylabel=ylabel, title=title)


def lines(xs: list, series: list[tuple[str, list]], label: str, *, fmt=pct, title: str = "", xlabel: str = "",
          ylabel: str = "", xlog: bool = False, ylog: bool = False, ylim: tuple | None = (0, 1.05),
          size=(5.4, 3), colours=COLOURS, annotate: bool = True) -> str:
    """One line per series over ``xs`` (numbers, or labels placed evenly); ``annotate`` writes each value
    by its point."""
    fig, ax = _figure(size)
    numeric = all(isinstance(x, (int, float)) for x in xs)
    at = xs if numeric else list(range(len(xs)))
    for j, (name, values) in enumerate(series):
        colour = colours[j % len(colours)]
        ax.plot(at, _nan(values), marker="o", color=colour, label=name, linewidth=2)
        for x, v in zip(at, values):
            if annotate and is_num(v):
                ax.annotate(fmt(v), (x, v), textcoords="offset points", xytext=(0, 7 if j % 2 == 0 else -13),
                            ha="center", fontsize=8, color=colour)
    if xlog:
        ax.set_xscale("log")
        ax.set_xticks(xs, [f"{x:,}" for x in xs])
        ax.minorticks_off()
    elif not numeric:
        ax.set_xticks(at, xs)
    return _axes(ax, series, label, fmt, ylog, ylim, {"fontsize": 8}, title=title, xlabel=xlabel, ylabel=ylabel)


def histogram(series: list[tuple[str, list[float]]], label: str, *, size=(11, 3)) -> str:
    """Values in ms, the runs' bars side by side in shared bins (log-spaced when they span 10x or
    more), a dashed line at each run's median."""
    import numpy as np
    from matplotlib.patheffects import withStroke
    from matplotlib.ticker import MaxNLocator

    values = [v for _, vs in series for v in vs]
    fig, ax = _figure(size)
    lo, hi = min(values), max(values)
    log = lo > 0 and hi / lo >= 10
    edges = np.geomspace(lo, hi * 1.001, 24) if log else np.linspace(min(0.0, lo), hi * 1.001 + 1, 24)
    ax.hist([vs for _, vs in series], bins=edges, label=[n for n, _ in series],
            color=COLOURS[:len(series)], rwidth=0.9)
    for j, (name, vs) in enumerate(series):
        if vs:
            med = float(np.median(vs))
            ax.axvline(med, color=COLOURS[j], linestyle="--", linewidth=1.8, zorder=3,
                       path_effects=[withStroke(linewidth=4, foreground="white")])  # seen over its own bars
            ax.annotate(f"{name} median {ms(med)}", (med, 1), xycoords=("data", "axes fraction"),
                        xytext=(4, -12 - 12 * j), textcoords="offset points", color=COLOURS[j], fontweight="bold",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}, zorder=4)
    if log:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(lambda v, _: ms(v))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=f"total latency per question{' (log scale)' if log else ''} · dashed line: median",
           ylabel="questions")
    if len(series) > 1:
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1), ncols=len(series))
    return to_svg(fig, label)


def stacked(rows: list[tuple[str, dict[str, float]]], label: str, *, size=(5.4, 1.2)) -> str:
    """One horizontal bar per row, split into its parts (e.g. median ms per stage), total at the end."""
    fig, ax = _figure((size[0], size[1] + 0.45 * len(rows)))
    parts = list(dict.fromkeys(k for _, d in rows for k in d))
    left = [0.0] * len(rows)
    for i, part in enumerate(parts):
        widths = [d.get(part) or 0.0 for _, d in rows]
        drawn = ax.barh([n for n, _ in rows], widths, left=left, label=part, color=COLOURS[(i + 2) % len(COLOURS)])
        ax.bar_label(drawn, labels=[ms(w) if w > 0.12 * max(sum(d.values()) for _, d in rows) else ""
                                    for w in widths], label_type="center", color="white", fontsize=8)
        left = [a + b for a, b in zip(left, widths)]
    for y, total in enumerate(left):
        ax.annotate(ms(total), (total, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left) * 1.18)
    ax.xaxis.set_major_formatter(lambda v, _: ms(v))
    ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncols=len(parts), fontsize=8)
    return to_svg(fig, label)
