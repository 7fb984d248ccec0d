"""The curator's email preview: the digest of a batch (draft or published) as a chosen
subscriber, or made-up interests, would receive it, HTML and text, before sending. The
email is built from plain data (subscribers.emails.Digest), so made-up interests need no
subscriber row."""

from __future__ import annotations

import dataclasses

import uuid

from django import forms

from digest.matching import Interests
from digest.models import Batch, Topic
from digest.selection import PeriodContent

from .emails import SHORT_ABSTRACTS_AFTER, Digest, EditionInfo, PaperViews, Recipient, digest_message
from .models import Frequency, Strictness, Subscriber

MADE_UP_ADDRESS = "preview@example.org"


class PreviewForm(forms.Form):
    subscriber = forms.ModelChoiceField(queryset=Subscriber.objects.all(), required=False,
                                        help_text="Preview as this subscriber…")
    topics = forms.ModelMultipleChoiceField(queryset=Topic.objects.filter(active=True), required=False,
                                            widget=forms.CheckboxSelectMultiple, help_text="…or as made-up interests")
    keywords = forms.CharField(required=False)
    categories = forms.CharField(required=False)
    authors = forms.CharField(required=False)
    about = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    strictness = forms.ChoiceField(choices=Strictness.choices, initial=Strictness.BALANCED, required=False)
    max_papers = forms.IntegerField(min_value=1, max_value=50, initial=10, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("subscriber") and not (data.get("topics") or data.get("keywords") or data.get("categories")
                                              or data.get("authors") or data.get("about")):
            raise forms.ValidationError("Pick a subscriber, or some topics or keywords.")
        return data

    def preview(self, batch: Batch) -> dict:
        data = self.cleaned_data
        subscriber = data.get("subscriber")
        if subscriber:
            return preview_digest(batch, Recipient.of(subscriber), subscriber.interests(), subscriber.max_papers or 10,
                                  marked=[*subscriber.liked_papers.all(), *subscriber.disliked_papers.all()])
        topics = list(data.get("topics") or [])
        keywords, categories = data.get("keywords") or "", data.get("categories") or ""
        recipient = Recipient(email=MADE_UP_ADDRESS, uid=uuid.uuid4(), topics=tuple((t.name, t.pk) for t in topics),
                              keywords=keywords, categories=categories)
        interests = Interests.build(topics=[(t.name, t.query) for t in topics], keywords=keywords,
                                    categories=categories, authors=data.get("authors") or "",
                                    about=data.get("about") or "",
                                    strictness=data.get("strictness") or Strictness.BALANCED)
        return preview_digest(batch, recipient, interests, data.get("max_papers") or 10)


def personal_content(subscriber, start, end, drafts: bool = False) -> PeriodContent:
    """The papers of start..end indexed for one subscriber: their liked and "fewer like"
    papers from other days are added, so that closeness to them can be measured."""
    content = PeriodContent(start, end, drafts=drafts)
    content.add_external([*subscriber.liked_papers.all(), *subscriber.disliked_papers.all()])
    return content


def preview_digest(batch: Batch, recipient: Recipient, interests: Interests, cap: int, marked=()) -> dict:
    """The digest `recipient` would get from `batch`: {"empty": True} if nothing matches.
    `marked` are the papers they marked "more" or "fewer like this" on earlier days."""
    content = PeriodContent(batch.date, batch.date, drafts=True)
    content.add_external(marked)
    matches, more = content.select(interests, cap)
    if not matches:
        return {"empty": True}
    short = len(matches) > SHORT_ABSTRACTS_AFTER
    views = PaperViews(content.papers)
    # A preview is not an email anyone got: its links go straight to the papers.
    message = digest_message(Digest(
        recipient=dataclasses.replace(recipient, plain_links=True), edition=EditionInfo(id=0, frequency=Frequency.DAILY, date=batch.date), delivery_id=0,
        papers=[(views.view(m.paper_id, short), m) for m in matches], more=more,
    ))
    return {"subject": message.subject, "text": message.body, "html": message.alternatives[0][0],
            "count": len(matches), "more": more, "bytes": len(message.message().as_bytes())}
