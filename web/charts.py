"""The timeline as a server-rendered SVG bar chart: geometry only (the
template draws it), with a link per bar to that period's results. No
JavaScript and no inline styles, so the page's CSP allows it; the viewBox
scales it to a phone's width."""

import calendar
from datetime import date, timedelta

WIDTH, HEIGHT, TOP = 600, 120, 8  # viewBox units; TOP leaves room above the tallest bar
MEASURES = (("count", "件数"), ("share", "割合"))


MAX_MONTHS = 600  # fifty years of bars at most; a wider range draws no chart


def auto_interval(first, last):
    """Days for up to two months, weeks up to two years, else months; None
    when even months would be too many bars."""
    if not first or not last:
        return "day"
    first, last = date.fromisoformat(first), date.fromisoformat(last)
    span = (last - first).days
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        return None
    return "day" if span <= 62 else "week" if span <= 730 else "month"


def bucket_end(start, interval):
    day = date.fromisoformat(start)
    if interval == "week":
        return (day + timedelta(days=6)).isoformat()
    if interval == "month":
        return day.replace(day=calendar.monthrange(day.year, day.month)[1]).isoformat()
    return start


def period_label(start, interval):
    day = date.fromisoformat(start)
    if interval == "month":
        return f"{day.year}年{day.month}月"
    text = f"{day.year}年{day.month}月{day.day}日"
    return text + "の週" if interval == "week" else text


def chart(timeline, link, measure="count", within=(None, None)):
    """The chart of a timeline answer (search.render.timeline_json): bars
    with their geometry, labels and links (link(first, last) gives the URL
    of a period's results, clamped to within: the request's from and to),
    or None when it has no bucket."""
    buckets = timeline["buckets"]
    if not buckets:
        return None
    measure = measure if measure in dict(MEASURES) else "count"
    values = [b["share"] if measure == "share" else b["count"] for b in buckets]
    top = max(values) or (1.0 if measure == "share" else 1)
    width = WIDTH / len(buckets)
    bars = []
    for i, (b, value) in enumerate(zip(buckets, values)):
        height = (HEIGHT - TOP) * value / top
        label = period_label(b["start"], timeline["interval"])
        bars.append({
            "x": round(i * width + width * 0.1, 2), "width": round(max(width * 0.8, 0.5), 2),
            "y": round(HEIGHT - height, 2), "height": round(height, 2),
            "label": label, "count": b["count"], "total": b["total"],
            "percent": round(b["share"] * 100, 1),
            "title": f"{label}: {b['count']:,} 件（全 {b['total']:,} 件中 {b['share'] * 100:.1f}%）",
            "url": link(max(b["start"], within[0] or b["start"]),
                        min(bucket_end(b["start"], timeline["interval"]),
                            within[1] or "9999-12-31"))})
    return {"bars": bars, "width": WIDTH, "height": HEIGHT, "measure": measure,
            "first": bars[0]["label"], "last": bars[-1]["label"],
            "max": f"{top * 100:.1f}%" if measure == "share" else f"{top:,} 件"}
