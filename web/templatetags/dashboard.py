from django import template

from subscribers.analytics import recent_engagement
from web.dashboard import charts, todays_batch

register = template.Library()


@register.inclusion_tag("admin/dashboard.html")
def paperpost_dashboard():
    return {"charts": charts(), "today": todays_batch(), "engagement": recent_engagement(days=7)}
