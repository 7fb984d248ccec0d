"""{% subscribe_form %}: the subscribe form on any page, so that the pages that show it need
not know the form (they sit in web/, the form here).

The page's context may hold `form` (a bound SubscribeForm with errors, after a bad POST),
`subscribe_topic` (a topic slug to tick, from ?topic=) and `csrf_hole` (a cached page's
stand-in for the visitor's CSRF token, filled in per request)."""

from django import template

from digest.models import Topic

from ..forms import SubscribeForm

register = template.Library()


@register.inclusion_tag("subscribers/_subscribe_form.html", takes_context=True)
def subscribe_form(context):
    form = context.get("form")
    if not isinstance(form, SubscribeForm):
        slug = context.get("subscribe_topic")
        initial = {"topics": list(Topic.objects.filter(slug=slug, active=True))} if slug else {}
        form = SubscribeForm(initial=initial)
    return {"form": form, "csrf_hole": context.get("csrf_hole")}
