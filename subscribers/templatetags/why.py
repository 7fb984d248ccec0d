"""{% why match %}: a picked paper's "Why:" line on the web pages, from the same partial as
the email's (templates/emails/_why.html, see subscribers.why)."""

from django import template

from .. import why as why_line

register = template.Library()


@register.simple_tag
def why(match, shown: str = ""):
    return why_line.why_html(match.reasons, (shown or "").casefold())
