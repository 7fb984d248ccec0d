from django import template

from web.dashboard import charts

register = template.Library()


@register.inclusion_tag("admin/dashboard.html")
def paperpost_dashboard():
    return {"charts": charts()}
