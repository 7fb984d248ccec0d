from django.contrib import admin, messages
from django.db.models import Count
from django.utils.html import format_html

from .models import Batch, BatchEntry, Paper, Source, Topic


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    list_display = ("title_short", "arxiv_id", "version", "primary_category", "published", "upvotes", "has_code")
    list_filter = ("primary_category", "published")
    search_fields = ("title", "arxiv_id", "abstract")
    readonly_fields = ("key", "created_at", "updated_at")
    date_hierarchy = "published"
    fieldsets = (
        (None, {"fields": ("title", "abstract", "authors", "arxiv_id", "version", "key")}),
        ("Classification", {"fields": ("categories", "primary_category", "ai_keywords", "ai_summary")}),
        ("Links", {"fields": ("abs_url", "pdf_url", "code_url", "project_url", "doi", "journal_ref")}),
        ("Signal", {"fields": ("upvotes", "stars", "num_comments", "submitter")}),
        ("Record", {"fields": ("published", "rights", "comment", "affiliations", "created_at", "updated_at")}),
    )

    @admin.display(description="title", ordering="title")
    def title_short(self, obj):
        return obj.title[:90]

    @admin.display(boolean=True, description="code")
    def has_code(self, obj):
        return bool(obj.code_url)


class BatchEntryInline(admin.TabularInline):
    model = BatchEntry
    fields = ("position", "paper", "featured", "hidden", "note", "announce_type")
    readonly_fields = ("announce_type",)
    raw_id_fields = ("paper",)
    extra = 0
    ordering = ("position",)


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("date", "status", "paper_count", "published_at")
    list_filter = ("status",)
    date_hierarchy = "date"
    inlines = [BatchEntryInline]
    actions = ["publish_batches"]
    readonly_fields = ("published_at", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_entries=Count("entries"))

    @admin.display(description="papers", ordering="n_entries")
    def paper_count(self, obj):
        return obj.n_entries

    @admin.action(description="Publish the selected batches")
    def publish_batches(self, request, queryset):
        done = sum(1 for batch in queryset if batch.publish())
        self.message_user(request, f"Published {done} batch(es).", messages.SUCCESS)


@admin.register(BatchEntry)
class BatchEntryAdmin(admin.ModelAdmin):
    list_display = ("batch", "position", "paper", "featured", "hidden")
    list_filter = ("featured", "hidden", "batch")
    list_editable = ("position", "featured", "hidden")
    raw_id_fields = ("paper",)
    search_fields = ("paper__title",)


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "active", "position", "subscriber_count")
    list_editable = ("active", "position")
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "query")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_subscribers=Count("subscribers"))

    @admin.display(description="subscribers", ordering="n_subscribers")
    def subscriber_count(self, obj):
        return obj.n_subscribers


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "format", "enabled", "interval_minutes", "last_checked_at", "last_success_at", "counts", "error_flag")
    list_filter = ("enabled", "format")
    actions = ["run_now"]

    @admin.display(description="last run")
    def counts(self, obj):
        c = obj.last_counts or {}
        if not c:
            return "-"
        return f"{c.get('total', 0)} papers: {c.get('new', 0)} new, {c.get('updated', 0)} updated, {c.get('errors', 0)} errors"

    @admin.action(description="Run now (fetch and ingest)")
    def run_now(self, request, queryset):
        from .tasks import ingest_source_task

        for source in queryset:
            ingest_source_task.delay(source.pk)
        self.message_user(request, f"Queued {queryset.count()} source(s); see Last run and Last error.", messages.SUCCESS)
    readonly_fields = ("etag", "last_modified", "last_checked_at", "last_success_at", "last_error", "last_counts", "created_at")

    @admin.display(description="last error")
    def error_flag(self, obj):
        if not obj.last_error:
            return "-"
        return format_html('<span style="color:#b42318">{}</span>', obj.last_error[:80])
