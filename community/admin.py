"""The curation panel's community pages: the submissions queue (approve, reject with a
reason), comments (hide, show, remove) with their reports, votes (remove), and members
(trust, ban). Every change goes through the functions that keep the papers' counts right."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from . import comments, members, submissions, votes
from .forms import RejectForm
from .models import Comment, CommentReport, Member, SignInRequest, Submission, Vote
from .names import clean_display_name


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("paper_title", "arxiv_id", "submitter", "batch", "status", "created_at")
    list_filter = ("status", "batch__date")
    search_fields = ("paper__title", "paper__arxiv_id", "user__member__display_name")
    list_select_related = ("paper", "batch", "user__member")
    readonly_fields = ("user", "paper", "batch", "status", "reason", "created_at", "decided_at", "decided_by")
    actions = ["approve", "reject"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="paper", ordering="paper__title")
    def paper_title(self, obj):
        return format_html('<a href="{}">{}</a>', obj.paper.get_absolute_url(), obj.paper.title[:100])

    @admin.display(description="arXiv id", ordering="paper__arxiv_id")
    def arxiv_id(self, obj):
        return obj.paper.arxiv_id

    @admin.display(description="submitted by", ordering="user__member__display_name")
    def submitter(self, obj):
        member = getattr(obj.user, "member", None)
        return f"{member.public_name}{' (trusted)' if member and member.trusted else ''}" if member else obj.user

    def changelist_view(self, request, extra_context=None):
        # The queue first: without a filter, show what waits for a decision.
        if not request.GET and request.method == "GET":
            request.GET = request.GET.copy()
            request.GET["status__exact"] = Submission.Status.PENDING
            request.META["QUERY_STRING"] = request.GET.urlencode()
        return super().changelist_view(request, extra_context)

    @admin.action(description="Approve: add to their day's list")
    def approve(self, request, queryset):
        done = sum(submissions.approve(s, by=request.user) for s in queryset.select_related("user", "batch", "paper"))
        self.message_user(request, f"Approved {done} submission{'s' if done != 1 else ''}.", messages.SUCCESS)

    @admin.action(description="Reject (asks for a reason)")
    def reject(self, request, queryset):
        form = RejectForm(request.POST if request.POST.get("confirmed") == "yes" else None)
        if form.is_bound and form.is_valid():
            done = sum(submissions.reject(s, form.cleaned_data["reason"], by=request.user) for s in queryset)
            self.message_user(request, f"Rejected {done} submission{'s' if done != 1 else ''}.", messages.SUCCESS)
            return None
        return TemplateResponse(request, "admin/community/reject.html", {
            **self.admin_site.each_context(request), "title": "Reject these submissions?", "form": form,
            "submissions": queryset.select_related("paper"), "opts": self.model._meta,
            "selected": queryset.values_list("pk", flat=True),
        })


class ReportInline(admin.TabularInline):
    model = CommentReport
    fields = ("user", "reason", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = True


class ReportedFilter(admin.SimpleListFilter):
    title = "reports"
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", "Reported"), ("no", "Not reported")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(n_reports__gt=0)
        if self.value() == "no":
            return queryset.filter(n_reports=0)
        return queryset


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ("excerpt", "paper_title", "author", "created_at", "hidden", "report_count")
    list_filter = ("hidden", ReportedFilter, "created_at")
    search_fields = ("body", "user__member__display_name", "user__email", "paper__title")
    list_select_related = ("paper", "user__member")
    readonly_fields = ("paper", "user", "body", "created_at", "edited_at", "hidden", "hidden_reason", "hidden_at")
    inlines = [ReportInline]
    actions = ["hide", "unhide", "remove", "dismiss_reports"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_reports=Count("reports"))

    def get_actions(self, request):
        found = super().get_actions(request)
        found.pop("delete_selected", None)  # "remove" recounts the papers' comment counts
        return found

    @admin.display(description="comment")
    def excerpt(self, obj):
        return obj.body[:100]

    @admin.display(description="paper", ordering="paper__title")
    def paper_title(self, obj):
        return format_html('<a href="{}#comment-{}">{}</a>', obj.paper.get_absolute_url(), obj.pk, obj.paper.title[:60])

    @admin.display(description="by", ordering="user__member__display_name")
    def author(self, obj):
        return getattr(getattr(obj.user, "member", None), "public_name", obj.user)

    @admin.display(description="reports", ordering="n_reports")
    def report_count(self, obj):
        return obj.n_reports

    @admin.action(description="Hide from the site")
    def hide(self, request, queryset):
        done = comments.hide(queryset)
        self.message_user(request, f"Hid {done} comment{'s' if done != 1 else ''}.", messages.SUCCESS)

    @admin.action(description="Show again")
    def unhide(self, request, queryset):
        done = comments.unhide(queryset)
        self.message_user(request, f"{done} comment{'s' if done != 1 else ''} shown again.", messages.SUCCESS)

    @admin.action(description="Remove for good")
    def remove(self, request, queryset):
        for comment in queryset:
            comments.delete(comment, request.user)
        self.message_user(request, "Removed.", messages.SUCCESS)

    @admin.action(description="Dismiss their reports")
    def dismiss_reports(self, request, queryset):
        CommentReport.objects.filter(comment__in=queryset).delete()
        self.message_user(request, "Reports dismissed.", messages.SUCCESS)

    def delete_model(self, request, obj):
        comments.delete(obj, request.user)


@admin.register(Vote)
class VoteAdmin(admin.ModelAdmin):
    list_display = ("paper", "voter", "via", "created_at")
    list_filter = ("via", "created_at")
    search_fields = ("paper__title", "paper__arxiv_id", "user__email", "user__member__display_name")
    list_select_related = ("paper", "user__member")
    readonly_fields = ("user", "paper", "via", "liked", "created_at")

    def has_add_permission(self, request):
        return False

    @admin.display(description="voter")
    def voter(self, obj):
        return getattr(getattr(obj.user, "member", None), "public_name", obj.user)

    def delete_queryset(self, request, queryset):
        votes.remove_votes(queryset)

    def delete_model(self, request, obj):
        votes.remove_votes(Vote.objects.filter(pk=obj.pk))


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = ["display_name", "trusted"]

    def clean_display_name(self):
        # A curator renaming someone (an offensive name) follows the same rules as the person.
        value = self.cleaned_data.get("display_name", "")
        return clean_display_name(value) if value else ""


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    form = MemberForm
    list_display = ("__str__", "email", "trusted", "banned", "n_votes", "n_submissions", "n_comments", "created_at")
    list_filter = ("trusted", "banned")
    search_fields = ("display_name", "user__email")
    list_select_related = ("user",)
    fields = ("user", "display_name", "trusted", "banned", "banned_at", "ban_reason", "created_at")
    readonly_fields = ("user", "banned", "banned_at", "ban_reason", "created_at")
    actions = ["trust", "distrust", "ban", "unban"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            nv=Count("user__votes", distinct=True), ns=Count("user__submissions", distinct=True),
            nc=Count("user__comments", distinct=True))

    def save_model(self, request, obj, form, change):
        if change and "display_name" in form.changed_data:
            members.rename_submitted(obj.user_id, form.initial.get("display_name", ""), obj.display_name)
        super().save_model(request, obj, form, change)

    @admin.display(description="email", ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(description="votes", ordering="nv")
    def n_votes(self, obj):
        return obj.nv

    @admin.display(description="submissions", ordering="ns")
    def n_submissions(self, obj):
        return obj.ns

    @admin.display(description="comments", ordering="nc")
    def n_comments(self, obj):
        return obj.nc

    @admin.action(description="Trust: their submissions skip the queue")
    def trust(self, request, queryset):
        queryset.update(trusted=True)

    @admin.action(description="Stop trusting")
    def distrust(self, request, queryset):
        queryset.update(trusted=False)

    @admin.action(description="Ban: their votes stop counting, no new votes, submissions or comments")
    def ban(self, request, queryset):
        for member in queryset:
            members.ban(member, reason=f"banned by {request.user.get_username()}")
        self.message_user(request, "Banned; the papers' vote counts are recomputed.", messages.SUCCESS)

    @admin.action(description="Lift the ban")
    def unban(self, request, queryset):
        for member in queryset:
            members.unban(member)
        self.message_user(request, "Ban lifted; the papers' vote counts are recomputed.", messages.SUCCESS)


@admin.register(SignInRequest)
class SignInRequestAdmin(admin.ModelAdmin):
    """For "I never got the link": what the mail task did with each request (kept a day)."""

    list_display = ("email", "created_at", "outcome", "used_at", "ip")
    list_filter = ("outcome",)
    search_fields = ("email",)
    readonly_fields = ("email", "next_url", "ip", "created_at", "outcome", "used_at")
    exclude = ("nonce",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
