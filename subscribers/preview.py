"""The curator's email preview: the digest of a batch (draft or published) as a chosen
subscriber, or a made-up set of interests, would receive it, HTML and text, before sending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django import forms

from digest.matching import Interests
from digest.models import Topic
from digest.selection import PeriodContent

from .emails import SHORT_ABSTRACTS_AFTER, PaperViews, digest_message
from .models import Frequency, Strictness, Subscriber


class _Related:
    def __init__(self, items):
        self._items = list(items)

    def all(self):
        return self._items


@dataclass
class MadeUpSubscriber:
    """Duck-types the parts of Subscriber that matching and emails read."""

    email: str = "preview@example.org"
    keywords: str = ""
    categories: str = ""
    authors: str = ""
    about: str = ""
    strictness: str = "balanced"
    max_papers: int = 10
    topic_list: list = field(default_factory=list)
    uid: uuid.UUID = field(default_factory=uuid.uuid4)
    pk: int = 0

    @property
    def topics(self):
        return _Related(self.topic_list)

    @property
    def liked_papers(self):
        return _Related([])

    @property
    def disliked_papers(self):
        return _Related([])

    def interests(self) -> Interests:
        return Interests.build(topics=[(t.name, t.query) for t in self.topic_list], keywords=self.keywords,
                               categories=self.categories, authors=self.authors, about=self.about,
                               strictness=self.strictness)


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

    def subscriber_or_made_up(self):
        data = self.cleaned_data
        if data.get("subscriber"):
            return data["subscriber"]
        return MadeUpSubscriber(keywords=data.get("keywords") or "", categories=data.get("categories") or "",
                                authors=data.get("authors") or "", about=data.get("about") or "",
                                strictness=data.get("strictness") or Strictness.BALANCED,
                                max_papers=data.get("max_papers") or 10,
                                topic_list=list(data.get("topics") or []))


@dataclass
class _PreviewEdition:
    end_date: object
    pk: int = 0
    frequency: str = Frequency.DAILY


def personal_content(subscriber, start, end, drafts: bool = False) -> PeriodContent:
    """The papers of start..end indexed for one subscriber: their liked and "fewer like"
    papers from other days are added, so that closeness to them can be measured."""
    content = PeriodContent(start, end, drafts=drafts)
    content.add_external([*subscriber.liked_papers.all(), *subscriber.disliked_papers.all()])
    return content


def preview_digest(batch, subscriber) -> dict:
    content = personal_content(subscriber, batch.date, batch.date, drafts=True)
    matches, more = content.select(subscriber.interests(), subscriber.max_papers or 10)
    if not matches:
        return {"empty": True, "subscriber": subscriber}
    short = len(matches) > SHORT_ABSTRACTS_AFTER
    views = PaperViews(content.papers)
    message = digest_message(subscriber=subscriber, edition=_PreviewEdition(batch.date), delivery_id=0,
                             chosen=[(views.view(m.paper_id, short), m) for m in matches], more_count=more)
    html = message.alternatives[0][0]
    return {"subject": message.subject, "text": message.body, "html": html, "count": len(matches), "more": more,
            "subscriber": subscriber, "bytes": len(message.message().as_bytes())}
