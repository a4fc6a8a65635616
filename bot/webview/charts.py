"""The insights page's charts: figures from bot/webview/insights.py drawn by bot/webview/svg.py."""

from __future__ import annotations

from markupsafe import Markup

from bot.export.timings import format_duration
from bot.webview import svg
from bot.webview.insights import MEASURES, SEVERITIES, Insights

SEVERITY_CLASSES = {severity: f"sev-{severity.lower()}" for severity in SEVERITIES}
MEASURE_CLASSES = {measure: f"measure-{measure}" for measure in MEASURES}
MEASURE_NAMES = {"detect": "to detect", "acknowledge": "to acknowledge", "resolve": "to resolve"}


def _duration(seconds: float) -> str:
    return "0" if seconds <= 0 else format_duration(seconds)


def insight_charts(insights: Insights) -> dict[str, Markup]:
    weeks = [week.strftime("%d %b") for week in insights.weeks]
    per_week = svg.stacked_bars(
        weeks,
        {severity: counts for severity, counts in insights.per_week.items() if any(counts)} or {"P0": [0] * len(weeks)},
        SEVERITY_CLASSES,
        title="Incidents per week by severity",
        desc="Stacked bars, one per week starting Monday; the table below has the numbers.",
        chart_id="per-week",
    )
    times = svg.grouped_bars(
        weeks,
        {MEASURE_NAMES[measure]: values for measure, values in insights.times_per_week.items()},
        {MEASURE_NAMES[measure]: css for measure, css in MEASURE_CLASSES.items()},
        _duration,
        title="Median time to detect, acknowledge and resolve, per week",
        desc="Three bars per week; a missing bar means no incident of that week got that far.",
        chart_id="times",
    )
    services = svg.horizontal_bars(
        [(name, times["resolve"] or 0.0) for name, times, _count in insights.times_per_service],
        _duration,
        title="Median time to resolve per service",
        desc="One bar per service label, busiest services first.",
        chart_id="services",
        css="measure-resolve",
    )
    levels = svg.horizontal_bars(
        [(f"level {level}", float(count)) for level, count in insights.escalations],
        lambda value: f"{value:g}",
        title="Escalations by level",
        desc="How many escalations fired at each level.",
        chart_id="levels",
        css="bar-escalation",
    )
    noisiest = svg.horizontal_bars(
        [(title, float(count)) for title, count, _alerts in insights.noisiest],
        lambda value: f"{value:g}",
        title="Noisiest alert groups",
        desc="Alert groups by how often they arrived, noisiest first.",
        chart_id="noisiest",
        css="bar-noise",
    )
    return {"per_week": per_week, "times": times, "services": services, "levels": levels, "noisiest": noisiest}
