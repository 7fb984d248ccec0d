from django.contrib import admin
from django.db.models import Count, Q

from .models import Delivery, Edition, Subscriber


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ("email", "status", "frequency", "topic_list", "created_at", "confirmed_at")
    list_filter = ("status", "frequency", "topics")
    search_fields = ("email", "keywords")
    filter_horizontal = ("topics",)
    readonly_fields = ("uid", "consent_at", "consent_ip", "consent_source", "confirmed_at", "unsubscribed_at", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("topics")

    @admin.display(description="topics")
    def topic_list(self, obj):
        return ", ".join(t.name for t in obj.topics.all())


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
