import csv

from django.contrib import admin, messages
from django.db.models import Count, Q
from django.http import HttpResponse

from digest.models import Topic

from . import lifecycle
from .models import Delivery, Edition, Subscriber, Suppression


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
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
                         "status", "confirmed_at", "consent_source"])
        for s in queryset.prefetch_related("topics").order_by("pk"):
            writer.writerow([s.email, ",".join(t.slug for t in s.topics.all()), s.keywords, s.categories,
                             s.authors, s.frequency, s.status,
                             s.confirmed_at.isoformat() if s.confirmed_at else "", s.consent_source])
        return response

    @admin.action(description="Mark as hard-bounced (stop all mail)")
    def mark_bounced(self, request, queryset):
        for s in queryset:
            lifecycle.suppress(s.email, Suppression.Reason.BOUNCED, f"admin action by {request.user}")
        self.message_user(request, f"{queryset.count()} address(es) suppressed as bounced.", messages.SUCCESS)

    @admin.action(description="Mark as complained (stop all mail)")
    def mark_complained(self, request, queryset):
        for s in queryset:
            lifecycle.suppress(s.email, Suppression.Reason.COMPLAINED, f"admin action by {request.user}")
        self.message_user(request, f"{queryset.count()} address(es) suppressed as complained.", messages.SUCCESS)


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("email_hash", "reason", "detail", "created_at")
    list_filter = ("reason",)
    search_fields = ("email_hash",)
    readonly_fields = ("email_hash", "reason", "detail", "created_at")

    def has_add_permission(self, request):
        return False  # use `manage.py suppress EMAIL`, which hashes the address


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ("subscriber", "status", "attempts", "sent_at", "last_error")
    readonly_fields = fields
    extra = 0
    max_num = 0
    show_change_link = True
    can_delete = False

    def get_queryset(self, request):
        # Only the rows that need a look; an edition can have 100,000 deliveries.
        return super().get_queryset(request).filter(status__in=["failed", "unknown"]).select_related("subscriber")


@admin.register(Edition)
class EditionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "created_at", "sent", "skipped", "failed", "queued")
    list_filter = ("frequency", "status")
    readonly_fields = ("created_at", "finished_at")
    inlines = [DeliveryInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            n_sent=Count("deliveries", filter=Q(deliveries__status="sent")),
            n_skipped=Count("deliveries", filter=Q(deliveries__status="skipped")),
            n_failed=Count("deliveries", filter=Q(deliveries__status__in=["failed", "unknown"])),
            n_queued=Count("deliveries", filter=Q(deliveries__status__in=["pending", "sending"])),
        )

    @admin.display(ordering="n_sent")
    def sent(self, obj):
        return obj.n_sent

    @admin.display(ordering="n_skipped")
    def skipped(self, obj):
        return obj.n_skipped

    @admin.display(description="failed/unknown", ordering="n_failed")
    def failed(self, obj):
        return obj.n_failed

    @admin.display(ordering="n_queued")
    def queued(self, obj):
        return obj.n_queued


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ("id", "edition", "subscriber", "status", "attempts", "sent_at", "skip_reason", "last_error")
    list_filter = ("status", "edition")
    search_fields = ("subscriber__email", "message_id")
    raw_id_fields = ("subscriber", "edition")
    readonly_fields = ("message_id", "claim", "claimed_at", "started_at", "sent_at", "created_at", "papers")
