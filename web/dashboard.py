"""The operator's dashboard on the admin index page: papers ingested per source per day,
subscribers by status over time, deliveries per edition. Charts are plain SVG drawn on the
server: no JavaScript, no external CDN."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe

from digest.models import Batch, BatchEntry
from subscribers.models import Delivery, Edition, Frequency, Subscriber

Status = Subscriber.Status
GONE = [Status.BOUNCED, Status.COMPLAINED]

PALETTE = ["#0b57d0", "#1a7f37", "#bf8700", "#cf222e", "#8250df", "#57606a", "#0598bc", "#d4a72c"]


def todays_batch() -> dict | None:
    """The shortcut at the top of the dashboard: the day to work on (the newest draft, else
    the newest batch), with its counts and where it stands (review, preview, publish, send)."""
    batch = Batch.objects.filter(status=Batch.Status.DRAFT).order_by("-date").first() or \
        Batch.objects.order_by("-date").first()
    if batch is None:
        return None
    counts = batch.entries.aggregate(n_papers=Count("id", filter=Q(hidden=False)),
                                     n_hidden=Count("id", filter=Q(hidden=True)),
                                     n_featured=Count("id", filter=Q(featured=True, hidden=False)))
    return {
        "batch": batch,
        **counts,
        "edition": Edition.objects.filter(frequency=Frequency.DAILY, end_date=batch.date).first(),
        "audience": Subscriber.objects.deliverable().filter(frequency=Frequency.DAILY).count(),
    }


def papers_per_source(days: int = 14):
    since = timezone.localdate() - dt.timedelta(days=days - 1)
    dates = [since + dt.timedelta(days=i) for i in range(days)]
    series: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    start = dt.datetime.combine(since, dt.time(0), tzinfo=timezone.get_current_timezone())
    rows = (
        BatchEntry.objects.filter(added_at__gte=start)
        .annotate(day=TruncDate("added_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "source__name").annotate(n=Count("id"))
    )
    for row in rows:
        series[row["source__name"] or "files and commands"][(row["day"] - since).days] += row["n"]
    return dates, dict(series)


def subscribers_over_time(days: int = 30):
    today = timezone.localdate()
    dates = [today - dt.timedelta(days=days - 1 - i) for i in range(days)]
    series = {"active": [], "pending": [], "unsubscribed": [], "bounced or complained": []}
    for day in dates:
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=timezone.get_current_timezone())
        counts = Subscriber.objects.exclude(status=Status.PENDING, confirmed_at__isnull=True).annotate(
            joined=Coalesce("confirmed_at", "created_at")
        ).aggregate(
            active=Count("id", filter=Q(joined__lt=end) & (Q(unsubscribed_at__isnull=True) | Q(unsubscribed_at__gte=end))
                         & ~Q(status__in=GONE, updated_at__lt=end)),
            unsubscribed=Count("id", filter=Q(unsubscribed_at__lt=end)),
            gone=Count("id", filter=Q(status__in=GONE, updated_at__lt=end)),
        )
        series["active"].append(counts["active"])
        series["pending"].append(Subscriber.objects.filter(created_at__lt=end, status=Status.PENDING).count())
        series["unsubscribed"].append(counts["unsubscribed"])
        series["bounced or complained"].append(counts["gone"])
    return dates, series


def deliveries_per_edition(limit: int = 10):
    editions = list(
        Edition.objects.order_by("-created_at")[:limit].annotate(
            sent=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SENT)),
            failed=Count("deliveries", filter=Q(deliveries__status__in=Delivery.RESENDABLE)),
            skipped=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.SKIPPED)),
        )
    )[::-1]
    series = {"sent": [], "failed or unknown": [], "unsubscribes within 7 days": []}
    for edition in editions:
        series["sent"].append(edition.sent)
        series["failed or unknown"].append(edition.failed)
        after = edition.created_at + dt.timedelta(days=7)
        series["unsubscribes within 7 days"].append(
            Subscriber.objects.filter(deliveries__edition=edition, unsubscribed_at__gte=edition.created_at,
                                      unsubscribed_at__lt=after).count()
        )
    return [str(e) for e in editions], series


def bar_chart(title: str, labels: list[str], series: dict[str, list[int]], stacked: bool = True,
              width: int = 640, height: int = 220) -> str:
    """An accessible SVG bar chart (title, description, a legend, values in tooltips)."""
    left, bottom, top = 40, 36, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    n = max(1, len(labels))
    names = list(series)
    totals = [sum(series[s][i] for s in names) if stacked else max((series[s][i] for s in names), default=0)
              for i in range(len(labels))]
    peak = max([1, *totals])
    slot = plot_w / n
    bar_w = max(2.0, slot * 0.7 / (1 if stacked else max(1, len(names))))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="t-{id(series)}"><title id="t-{id(series)}">{escape(title)}</title>',
        f'<text x="{left}" y="14" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{top + 8}" font-size="10" text-anchor="end">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = left + i * slot + slot * 0.15
        base = top + plot_h
        for k, name in enumerate(names):
            value = series[name][i]
            h = plot_h * value / peak
            x = x0 if stacked else x0 + k * bar_w
            y = base - h if stacked else top + plot_h - h
            if value:
                parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                             f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(label)}: {escape(name)} {value}</title></rect>')
            if stacked:
                base -= h
        # Every label when they fit, else every step-th counted back from the newest, so
        # the latest bar (today) always has one.
        if n <= 16 or (n - 1 - i) % max(1, n // 10) == 0:
            parts.append(f'<text x="{x0 + bar_w / 2:.1f}" y="{top + plot_h + 14}" font-size="9" text-anchor="middle">'
                         f'{escape(label)}</text>')
    for k, name in enumerate(names):
        x = left + k * 150
        parts.append(f'<rect x="{x}" y="{height - 12}" width="10" height="10" fill="{PALETTE[k % len(PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{height - 3}" font-size="10">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def charts() -> list[str]:
    dates, per_source = papers_per_source()
    sub_dates, subscribers = subscribers_over_time()
    editions, deliveries = deliveries_per_edition()
    return [
        bar_chart("Papers ingested per source per day", [d.strftime("%d %b") for d in dates], per_source),
        bar_chart("Subscribers by status", [d.strftime("%d %b") for d in sub_dates], subscribers, stacked=True),
        bar_chart("Deliveries per edition", editions, deliveries, stacked=False),
    ]
