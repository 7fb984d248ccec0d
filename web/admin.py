"""The curation panel: papers, batches (order, featured, hidden, notes; publish, send,
preview, add by arXiv id), batch entries, topics and sources. The admin of subscribers and
editions is subscribers.admin; the dashboard on the index page is web.dashboard."""

import re
from urllib.parse import urlencode

from csp.decorators import csp_update
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import ngettext

from digest.ingest.feedtools import ARXIV_ID
from digest.ingest.pipeline import IngestError, ingest_url
from digest.models import Batch, BatchEntry, Paper, RankingModel, Source, Topic
from digest.pagecache import bump_content_version
from digest.tasks import ingest_source_task, refit_ranking
from subscribers.delivery import NothingToSend, build_edition
from subscribers.models import Delivery, Edition, Frequency, Subscriber
from subscribers.preview import PreviewForm


# The panel is Paperpost's, not "Django administration".
admin.site.site_header = "Paperpost"
admin.site.site_title = "Paperpost"
admin.site.index_title = "Curation and operations"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """ "1 paper", "2 papers"."""
    return f"{count} {ngettext(singular, plural_form or singular + 's', count)}"


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


class EntryForm(forms.ModelForm):
    class Meta:
        model = BatchEntry
        fields = ("position", "featured", "hidden", "note")
        widgets = {
            "position": forms.NumberInput(attrs={"class": "position", "min": 0, "max": 100000}),
            "note": forms.Textarea(attrs={"rows": 4, "cols": 40}),
        }


class BatchEntryInline(admin.TabularInline):
    """A batch's papers as one compact list: position (dragged, or typed), title, featured,
    hidden, the note in a popover, remove. ?q= on the batch page lists only the papers whose
    title, authors or arXiv id hold the words (search within the batch)."""

    model = BatchEntry
    form = EntryForm
    fields = ("position", "featured", "hidden", "note")
    template = "admin/digest/batch/entries_inline.html"
    extra = 0
    ordering = ("position", "pk")

    class Media:
        js = ["js/batch-order.js"]

    def has_add_permission(self, request, obj=None):
        return False  # papers join a batch by ingest, by arXiv id (above) or by submission

    def get_queryset(self, request):
        entries = super().get_queryset(request).select_related("paper")
        words = (request.GET.get("q") or "").split()[:8]
        for word in words:
            entries = entries.filter(Q(paper__title__icontains=word) | Q(paper__arxiv_id__icontains=word)
                                     | Q(paper__authors__icontains=word))
        return entries


class BatchForm(forms.ModelForm):
    add_arxiv_ids = forms.CharField(
        required=False, label="Add papers by arXiv id",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "2403.12345, hep-ex/0601001"}),
        help_text="Fetched from the arXiv API through the ingest guards, then added to this batch.",
    )

    class Meta:
        model = Batch
        fields = ["date", "send_at"]

    def clean_add_arxiv_ids(self):
        raw = [v for v in re.split(r"[\s,;]+", self.cleaned_data.get("add_arxiv_ids", "")) if v]
        bad = [v for v in raw if not re.fullmatch(ARXIV_ID + r"(v\d+)?", v)]
        if bad:
            raise forms.ValidationError(f"Not an arXiv id: {', '.join(bad[:5])}")
        if len(raw) > 50:
            raise forms.ValidationError("At most 50 ids at a time.")
        return raw


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    form = BatchForm
    list_display = ("date", "status", "paper_count", "published_at", "send_at", "sending")
    list_filter = ("status",)
    date_hierarchy = "date"
    inlines = [BatchEntryInline]
    actions = ["publish_batches"]
    readonly_fields = ("status", "published_at", "editions", "created_at", "updated_at")
    fields = ("date", "status", "published_at", "send_at", "add_arxiv_ids", "editions")
    change_form_template = "admin/digest/batch/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_entries=Count("entries"))

    @admin.display(description="papers", ordering="n_entries")
    def paper_count(self, obj):
        return obj.n_entries

    @admin.display(description="editions")
    def sending(self, obj):
        editions = Edition.objects.filter(end_date=obj.date)
        return ", ".join(f"{e.get_frequency_display()}: {e.get_status_display()}" for e in editions) or "-"

    @admin.display(description="editions sent for this day")
    def editions(self, obj):
        if obj.pk is None:
            return "-"
        rows = []
        for edition in Edition.objects.filter(end_date=obj.date):
            progress = edition.progress()
            counts = progress.counts
            rows.append(format_html(
                '<a href="{}">{}</a>: {} ({}% done; sent {}, skipped {}, failed {}, unknown {}, queued {})',
                reverse("admin:subscribers_edition_change", args=[edition.pk]), edition, edition.get_status_display(),
                progress.percent_done, counts[Delivery.Status.SENT], counts[Delivery.Status.SKIPPED],
                counts[Delivery.Status.FAILED], counts[Delivery.Status.UNKNOWN], progress.queued,
            ))
        return format_html_join(mark_safe("<br>"), "{}", ((r,) for r in rows)) if rows else "not sent yet"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        search = " ".join((request.GET.get("q") or "").split()[:8])
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "entry_search": search})

    def save_formset(self, request, form, formset, change):
        """Save the papers' rows, then number the whole batch 1, 2, 3 ... in the new order."""
        moved = {f.instance.pk: (f.initial.get("position", 0), f.cleaned_data["position"])
                 for f in formset.forms if "position" in f.changed_data and f.instance.pk
                 and not f.cleaned_data.get("DELETE")}
        super().save_formset(request, form, formset, change)
        if formset.model is BatchEntry:
            form.instance.renumber(moved)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        ids = form.cleaned_data.get("add_arxiv_ids") or []
        if ids:
            self._add_papers(request, obj, ids)

    def _add_papers(self, request, batch, ids):
        url = f"{settings.ARXIV_API_URL}?{urlencode({'id_list': ','.join(ids), 'max_results': len(ids)})}"
        try:
            summary = ingest_url(url, date=batch.date)
        except IngestError as exc:
            self.message_user(request, f"Could not add the papers: {exc}", messages.ERROR)
            return
        self.message_user(request, f"arXiv: {summary.line()}; {plural(summary.entries_added, 'paper')} added to this batch.",
                          messages.SUCCESS if not summary.errors else messages.WARNING)

    @admin.action(description="Publish the selected batches (asks first)")
    def publish_batches(self, request, queryset):
        if request.POST.get("confirmed") != "yes":
            return TemplateResponse(request, "admin/digest/batch/confirm.html", {
                **self.admin_site.each_context(request), "title": "Publish these batches?", "batches": queryset,
                "action": "publish_batches", "verb": "Publish", "opts": self.model._meta,
                "selected": queryset.values_list("pk", flat=True),
            })
        done = sum(1 for batch in queryset if batch.publish())
        self.message_user(request, f"Published {plural(done, 'batch', 'batches')}.", messages.SUCCESS)
        return None

    def get_urls(self):
        return [
            path("<int:pk>/publish/", self.admin_site.admin_view(self.publish_view), name="digest_batch_publish"),
            path("<int:pk>/send/", self.admin_site.admin_view(self.send_view), name="digest_batch_send"),
            # The email's HTML is all inline styles (as email must be) and the sandboxed iframe
            # showing it inherits this page's policy: inline styles are allowed here alone.
            path("<int:pk>/preview/", self.admin_site.admin_view(
                csp_update({"style-src": ["'unsafe-inline'"]})(self.preview_view)), name="digest_batch_preview"),
        ] + super().get_urls()

    def _batch(self, request, pk):
        batch = Batch.objects.filter(pk=pk).first()
        if batch is None or not self.has_change_permission(request, batch):
            raise PermissionDenied
        return batch

    def publish_view(self, request, pk):
        batch = self._batch(request, pk)
        if request.method == "POST":
            if batch.publish():
                self.message_user(request, f"Published the batch of {batch.date}.", messages.SUCCESS)
            return redirect("admin:digest_batch_change", batch.pk)
        return TemplateResponse(request, "admin/digest/batch/confirm_one.html", {
            **self.admin_site.each_context(request), "title": f"Publish the batch of {batch.date}?", "batch": batch,
            "opts": self.model._meta, "verb": "Publish",
            "consequence": f"{plural(batch.entries.filter(hidden=False).count(), 'paper')} will appear on the site and in the feeds.",
        })

    def send_view(self, request, pk):
        batch = self._batch(request, pk)
        if request.method == "POST":
            try:
                edition, added = build_edition(batch, Frequency.DAILY)
            except NothingToSend as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect("admin:digest_batch_change", batch.pk)
            self.message_user(request, f"Sending: {plural(added, 'delivery', 'deliveries')} queued.", messages.SUCCESS)
            return redirect("admin:subscribers_edition_change", edition.pk)
        audience = Subscriber.objects.deliverable().filter(frequency=Frequency.DAILY).count()
        return TemplateResponse(request, "admin/digest/batch/confirm_one.html", {
            **self.admin_site.each_context(request), "title": f"Send the digest of {batch.date} now?", "batch": batch,
            "opts": self.model._meta, "verb": "Send now",
            "consequence": (f"{plural(audience, 'daily subscriber')} get{'s' if audience == 1 else ''} their matches "
                            "(those with none get no email). "
                            + ("" if batch.is_published else "Publish the batch first: only published batches are sent.")),
            "disabled": not batch.is_published,
        })

    def preview_view(self, request, pk):
        batch = self._batch(request, pk)
        form = PreviewForm(request.GET or None)
        result = None
        if form.is_valid():
            result = form.preview(batch)
        return TemplateResponse(request, "admin/digest/batch/preview.html", {
            **self.admin_site.each_context(request), "title": f"Email preview: the batch of {batch.date}",
            "batch": batch, "opts": self.model._meta, "form": form, "result": result,
            "subscribers": Subscriber.objects.filter(status=Subscriber.Status.ACTIVE).order_by("email")[:200],
        })


@admin.register(BatchEntry)
class BatchEntryAdmin(admin.ModelAdmin):
    list_display = ("batch", "position", "paper", "featured", "hidden", "note")
    list_filter = ("featured", "hidden", "batch")
    list_editable = ("position", "featured", "hidden")
    raw_id_fields = ("paper",)
    search_fields = ("paper__title",)
    actions = ["feature", "unfeature", "hide", "unhide"]

    @admin.action(description="Feature the selected papers")
    def feature(self, request, queryset):
        self._set(request, queryset, featured=True)

    @admin.action(description="Stop featuring the selected papers")
    def unfeature(self, request, queryset):
        self._set(request, queryset, featured=False)

    @admin.action(description="Hide the selected papers")
    def hide(self, request, queryset):
        self._set(request, queryset, hidden=True)

    @admin.action(description="Show the selected papers again")
    def unhide(self, request, queryset):
        self._set(request, queryset, hidden=False)

    def _set(self, request, queryset, **fields):
        n = queryset.update(**fields)
        bump_content_version()
        self.message_user(request, f"Changed {plural(n, 'entry', 'entries')}.", messages.SUCCESS)


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
        for source in queryset:
            ingest_source_task.delay(source.pk)
        self.message_user(request, f"Queued {plural(queryset.count(), 'source')}; see Last run and Last error.",
                          messages.SUCCESS)
    readonly_fields = ("etag", "last_modified", "last_checked_at", "last_success_at", "last_error", "last_counts", "created_at")

    @admin.display(description="last error")
    def error_flag(self, obj):
        if not obj.last_error:
            return "-"
        return format_html('<span class="error-flag">{}</span>', obj.last_error[:80])


@admin.register(RankingModel)
class RankingModelAdmin(admin.ModelAdmin):
    """Fits of ranking's corpus statistics (refitted by beat; "Refit now" queues one)."""

    list_display = ("created_at", "window_days", "papers", "size")
    readonly_fields = ("created_at", "window_days", "papers", "size")
    exclude = ("data",)
    actions = ["refit_now"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="size")
    def size(self, obj):
        return f"{len(obj.data or b'') // 1024} KB"

    @admin.action(description="Refit now (fit on the rolling window)")
    def refit_now(self, request, queryset):
        refit_ranking.delay()
        self.message_user(request, "Queued a refit of the ranking model.", messages.SUCCESS)
