"""/submit/: a signed-in reader suggests a paper for the day's list."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .. import members, submissions
from ..forms import SubmitForm
from ..models import Submission
from .common import over_limit


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def submit(request):
    member = members.member_for(request.user)
    if not member.display_name:
        messages.info(request, "Choose a display name first: it is shown beside the papers you submit.")
        return redirect(f"{reverse('me')}?{urlencode({'next': reverse('submit')})}")
    form = SubmitForm(request.POST or None)
    status = 200
    if request.method == "POST":
        limited = over_limit(request, "submit", None, None, "SUBMIT_RATE_PER_IP")
        if limited:
            return limited
        if form.is_valid():
            try:
                submission = submissions.submit(request.user, form.cleaned_data["paper"])
            except submissions.SubmissionRefused as exc:
                form.add_error("paper", str(exc))
            else:
                if submission.status == Submission.Status.APPROVED:
                    messages.success(request, f"“{submission.paper.title}” joins the list of "
                                              f"{submission.batch.date:%a %-d %b}, submitted by you.")
                else:
                    messages.success(request, f"Thank you: “{submission.paper.title}” waits for a curator. "
                                              "You will see the decision on your page.")
                return redirect("submit")
        status = 400
    return render(request, "community/submit.html", {
        "form": form, "member": member, "settings_days": settings.SUBMISSION_MAX_AGE_DAYS,
        "batch": submissions.current_draft_batch(timezone.localdate()),
        "recent": Submission.objects.filter(user=request.user).select_related("paper", "batch")[:10],
    }, status=status)
