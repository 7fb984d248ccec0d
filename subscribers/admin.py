"""Operations in the admin: subscribers (counts, CSV export, bounces), suppressions, and
editions with their deliveries (progress, pause, resume, resend)."""

import csv

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from digest.models import Topic
from paperpost.csvcells import escape_cell

from . import analytics, delivery, learning, lifecycle
from .models import Delivery, Edition, Learning, LikeRequest, Reaction, Subscriber, Suppression
from .schedule import WEEKDAY_CODES
from .services import clean_about, clean_authors, clean_categories, clean_keywords, clean_timezone


class SubscriberAdminForm(forms.ModelForm):
    """The same bounds as the preference centre and the commands."""

    class Meta:
        model = Subscriber
        fields = "__all__"

    def clean_keywords(self):
        return clean_keywords(self.cleaned_data.get("keywords", ""))

    def clean_about(self):
        return clean_about(self.cleaned_data.get("about", ""))

    def clean_authors(self):
        return clean_authors(self.cleaned_data.get("authors", ""))

    def clean_categories(self):
        return clean_categories(self.cleaned_data.get("categories", ""))

    def clean_timezone(self):
        return clean_timezone(self.cleaned_data.get("timezone", ""))

Status = Delivery.Status


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberAdminForm
    list_display = ("email", "status", "frequency", "topic_list", "created_at", "confirmed_at")
    list_filter = ("status", "frequency", "topics")
    search_fields = ("email", "keywords")
    filter_horizontal = ("topics",)
    readonly_fields = ("uid", "consent_at", "consent_ip", "consent_source", "confirmed_at", "unsubscribed_at", "created_at", "updated_at")
    actions = ["export_csv", "mark_bounced", "mark_complained"]
    change_list_template = "admin/subscribers/subscriber/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("topics")

    @admin.display(description="topics")
    def topic_list(self, obj):
        return ", ".join(t.name for t in obj.topics.all())

    def changelist_view(self, request, extra_context=None):
        by_status = dict(Subscriber.objects.values_list("status").annotate(n=Count("id")))
        extra_context = {
            **(extra_context or {}),
            "status_counts": [(label, by_status.get(value, 0), value) for value, label in Subscriber.Status.choices],
            "topic_counts": Topic.objects.annotate(
                n=Count("subscribers", filter=Q(subscribers__status=Subscriber.Status.ACTIVE))
            ).order_by("-n", "name").values_list("name", "n"),
        }
        return super().changelist_view(request, extra_context=extra_context)

    @admin.action(description="Export the selected subscribers as CSV")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="subscribers.csv"'
        writer = csv.writer(response)
        # The columns of add_subscriber / import_subscribers, then the record.
        writer.writerow(["email", "topics", "keywords", "categories", "authors", "frequency",
                         "timezone", "hour", "weekday", "status", "confirmed_at", "consent_source"])
        for s in queryset.prefetch_related("topics").order_by("pk"):
            writer.writerow([escape_cell(cell) for cell in (
                s.email, ",".join(t.slug for t in s.topics.all()), s.keywords, s.categories,
                s.authors, s.frequency, s.timezone, "" if s.send_hour is None else s.send_hour,
                "" if s.send_weekday is None else WEEKDAY_CODES[s.send_weekday],
                s.status, s.confirmed_at.isoformat() if s.confirmed_at else "",
                s.consent_source,
            )])
        return response

    @admin.action(description="Mark as hard-bounced (stop all mail)")
    def mark_bounced(self, request, queryset):
        for s in queryset:
            lifecycle.suppress(s.email, Suppression.Reason.BOUNCED, f"admin action by {request.user}")
        n = queryset.count()
        self.message_user(request, f"{n} address{'' if n == 1 else 'es'} suppressed as bounced.", messages.SUCCESS)

    @admin.action(description="Mark as complained (stop all mail)")
    def mark_complained(self, request, queryset):
        for s in queryset:
            lifecycle.suppress(s.email, Suppression.Reason.COMPLAINED, f"admin action by {request.user}")
        n = queryset.count()
        self.message_user(request, f"{n} address{'' if n == 1 else 'es'} suppressed as complained.", messages.SUCCESS)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("email_hash", "reason", "detail", "created_at")
    list_filter = ("reason",)
    search_fields = ("email_hash",)
    readonly_fields = ("email_hash", "reason", "detail", "created_at")

    def has_add_permission(self, request):
        return False  # use `manage.py suppress EMAIL`, which hashes the address


class DeliveryInline(admin.TabularInline):
    """Only the rows that need a look: an edition can have 100,000 deliveries (the page links
    to all of them in the Delivery list, filtered)."""

    model = Delivery
    verbose_name_plural = "deliveries that need a look (failed or unknown; all of them are in the Delivery list)"
    fields = ("subscriber", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        # Only the rows that need a look; an edition can have 100,000 deliveries.
        return super().get_queryset(request).filter(status__in=Delivery.RESENDABLE).select_related("subscriber")


@admin.register(Edition)
class EditionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "created_at", "queued", "sent", "skipped", "failed", "unknown", "rate", "eta")
    list_filter = ("frequency", "status")
    # An edition is a record of a send: nothing on it is typed by hand. Its state changes only
    # through pause, resume and resend (buttons on the page, actions on the list), which call
    # subscribers.delivery like the commands and tasks do.
    fields = ("frequency", "start_date", "end_date", "status", "progress", "deliveries_by_status", "without_papers",
              "engagement", "created_at", "finished_at", "last_queued_at", "queued_until")
    readonly_fields = fields
    inlines = [DeliveryInline]
    actions = ["pause", "resume", "resend_failed"]
    change_form_template = "admin/subscribers/edition/change_form.html"

    def has_add_permission(self, request):
        return False  # editions are made by sending a batch (the batch page, send_digest, beat)

    def has_delete_permission(self, request, obj=None):
        # Its deliveries are the ledger of what was sent to whom: deleting them would let the
        # same batch go out twice.
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/pause/", view(self.pause_view), name="subscribers_edition_pause"),
            path("<int:pk>/resume/", view(self.resume_view), name="subscribers_edition_resume"),
            path("<int:pk>/resend/", view(self.resend_view), name="subscribers_edition_resend"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        edition = Edition.objects.filter(pk=object_id).first()
        extra = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        if edition is not None:
            counts = edition.status_counts()
            extra.update(edition_total=sum(counts.values()),
                         edition_resendable=sum(counts[s] for s in Delivery.RESENDABLE))
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @admin.display(description="deliveries")
    def deliveries_by_status(self, obj):
        counts = obj.status_counts()
        base = reverse("admin:subscribers_delivery_changelist") + f"?edition__id__exact={obj.pk}"
        parts = [format_html('<a href="{}">all {}</a>', base, sum(counts.values()))]
        parts += [format_html('<a href="{}&amp;status__exact={}">{} {}</a>', base, status, label.lower(), counts[status])
                  for status, label in Delivery.Status.choices if counts[status]]
        return format_html_join(" · ", "{}", ((p,) for p in parts))

    def _edition(self, request, pk) -> Edition:
        edition = Edition.objects.filter(pk=pk).first()
        if edition is None or not self.has_change_permission(request, edition):
            raise PermissionDenied
        return edition

    def pause_view(self, request, pk):
        edition = self._edition(request, pk)
        if request.method == "POST":
            done = delivery.pause(Edition.objects.filter(pk=edition.pk))
            self.message_user(request, f"Paused {edition}." if done else f"{edition} was not sending.",
                              messages.SUCCESS if done else messages.WARNING)
        return redirect("admin:subscribers_edition_change", edition.pk)

    def resume_view(self, request, pk):
        edition = self._edition(request, pk)
        if request.method == "POST":
            done = delivery.resume(Edition.objects.filter(pk=edition.pk))
            self.message_user(request, f"Resumed {edition}." if done else f"{edition} was not paused.",
                              messages.SUCCESS if done else messages.WARNING)
        return redirect("admin:subscribers_edition_change", edition.pk)

    def resend_view(self, request, pk):
        edition = self._edition(request, pk)
        rows = Delivery.objects.filter(edition=edition)
        if request.method == "POST":
            count = delivery.resend(rows)
            self.message_user(request, f"Queued {count} deliver{'y' if count == 1 else 'ies'} of {edition} again; "
                                       "suppressed or unsubscribed addresses are skipped.", messages.SUCCESS)
            return redirect("admin:subscribers_edition_change", edition.pk)
        return TemplateResponse(request, "admin/subscribers/edition/confirm_resend.html", {
            **self.admin_site.each_context(request), "title": f"Resend the failed and unknown deliveries of {edition}?",
            "edition": edition, "opts": self.model._meta, "count": rows.filter(status__in=Delivery.RESENDABLE).count(),
        })

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_sent=Count("deliveries", filter=Q(deliveries__status=Status.SENT)),
            n_skipped=Count("deliveries", filter=Q(deliveries__status=Status.SKIPPED)),
            n_failed=Count("deliveries", filter=Q(deliveries__status=Status.FAILED)),
            n_unknown=Count("deliveries", filter=Q(deliveries__status=Status.UNKNOWN)),
            n_queued=Count("deliveries", filter=Q(deliveries__status__in=Delivery.OPEN)),
        )

    @admin.display(ordering="n_sent")
    def sent(self, obj):
        return obj.n_sent

    @admin.display(ordering="n_skipped")
    def skipped(self, obj):
        return obj.n_skipped

    @admin.display(ordering="n_failed")
    def failed(self, obj):
        return obj.n_failed

    @admin.display(ordering="n_unknown")
    def unknown(self, obj):
        return obj.n_unknown

    @admin.display(ordering="n_queued")
    def queued(self, obj):
        return obj.n_queued

    @admin.display(description="rate")
    def rate(self, obj):
        return f"{delivery.sending_rate(obj):.1f}/s"

    @admin.display(description="ETA")
    def eta(self, obj):
        rate = delivery.sending_rate(obj)
        queued = getattr(obj, "n_queued", None)
        if queued is None:
            queued = obj.deliveries.filter(status__in=Delivery.OPEN).count()
        if not queued:
            return "-"
        if rate <= 0:
            return "paused" if obj.status == Edition.Status.PAUSED else "unknown"
        return f"{queued / rate:.0f} s"

    @admin.display(description="progress")
    def progress(self, obj):
        progress = obj.progress()
        counts = progress.counts
        return format_html(
            "<strong>{}%</strong> done: queued {} (sending {}), sent {}, skipped {}, failed {}, unknown {}; "
            "rate {} msgs/s over the last minute; ETA {}",
            progress.percent_done, progress.queued, counts[Status.SENDING], counts[Status.SENT],
            counts[Status.SKIPPED], counts[Status.FAILED], counts[Status.UNKNOWN], f"{delivery.sending_rate(obj):.1f}",
            self.eta(obj),
        )

    @admin.display(description="without papers")
    def without_papers(self, obj):
        """Why rows went out without papers: quiet days (nothing above the floor) apart from
        days the source announced nothing, and the quiet-day notes sent."""
        counts = obj.reason_counts()
        if not counts:
            return "-"
        words = {Status.SKIPPED: "skipped", Status.SENT: "quiet-day note sent"}
        return "; ".join(f"{words.get(status, status)}, {reason}: {n}" for status, reason, n in counts)

    @admin.display(description="engagement")
    def engagement(self, obj):
        if obj.pk is None:
            return "-"
        return render_to_string("admin/subscribers/engagement.html", {"e": analytics.edition_engagement(obj)})

    @admin.action(description="Pause sending (rows in flight finish, the rest wait)")
    def pause(self, request, queryset):
        n = delivery.pause(queryset)
        self.message_user(request, f"Paused {n} edition{'' if n == 1 else 's'}.", messages.SUCCESS)

    @admin.action(description="Resume sending")
    def resume(self, request, queryset):
        n = delivery.resume(queryset)
        self.message_user(request, f"Resumed {n} edition{'' if n == 1 else 's'}.", messages.SUCCESS)

    @admin.action(description="Resend failed and unknown deliveries (same Message-ID)")
    def resend_failed(self, request, queryset):
        count = delivery.resend(Delivery.objects.filter(edition__in=queryset))
        self.message_user(request, f"Queued {count} deliver{'y' if count == 1 else 'ies'} again; "
                                   "suppressed or unsubscribed addresses are skipped.",
                          messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "edition", "subscriber", "status", "due_at", "attempts", "sent_at", "skip_reason", "last_error")
    list_filter = ("status", "edition")
    search_fields = ("subscriber__email", "message_id")
    raw_id_fields = ("subscriber", "edition")
    readonly_fields = ("message_id", "claim", "claimed_at", "finished_at", "next_attempt_at", "due_at", "sent_at",
                       "created_at", "papers")
    actions = ["resend"]

    @admin.action(description="Resend the selected failed/unknown deliveries (same Message-ID)")
    def resend(self, request, queryset):
        count = delivery.resend(queryset)
        self.message_user(request, f"Queued {count} deliver{'y' if count == 1 else 'ies'} again.", messages.SUCCESS)


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    """What subscribers said about papers: the labels of their learned models."""

    list_display = ("subscriber", "kind", "paper", "created_at")
    list_filter = ("kind",)
    search_fields = ("subscriber__email", "paper__title")
    raw_id_fields = ("subscriber", "paper")


@admin.register(Learning)
class LearningAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "labels", "in_use", "changed_at", "trained_at")
    search_fields = ("subscriber__email",)
    raw_id_fields = ("subscriber",)
    readonly_fields = ("model", "labels", "changed_at", "trained_at")
    actions = ["retrain_now"]

    @admin.display(boolean=True, description="in use")
    def in_use(self, obj):
        model = obj.engine_model()
        return bool(model and model.usable)

    @admin.action(description="Retrain the selected models now")
    def retrain_now(self, request, queryset):
        for row in queryset:
            learning.retrain(row.pk)
        self.message_user(request, f"Retrained {queryset.count()} model(s).", messages.SUCCESS)


@admin.register(LikeRequest)
class LikeRequestAdmin(admin.ModelAdmin):
    list_display = ("subscriber", "status", "arxiv_ids", "added", "missing", "error", "created_at")
    list_filter = ("status",)
    search_fields = ("subscriber__email",)
    raw_id_fields = ("subscriber",)
