from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from digest.models import Topic

from .models import Frequency, Subscriber
from .services import MAX_EMAIL_CHARS, clean_authors, clean_categories, clean_keywords


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=MAX_EMAIL_CHARS, widget=forms.EmailInput(attrs={"placeholder": "you@example.org", "autocomplete": "email"}))
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.filter(active=True), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    keywords = forms.CharField(
        max_length=500, required=False,
        help_text='Optional keywords or phrases, separated by commas: LoRA, "knowledge distillation", -survey. '
                  "With no topic and no keyword you get the community's top papers of the day.",
    )
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.DAILY)
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty")

    def clean_keywords(self):
        return clean_keywords(self.cleaned_data.get("keywords", ""))

    # No topic and no keyword is a choice too: the community's top papers of the day
    # (digest.selection.wants_top_papers).


class PreferencesForm(forms.ModelForm):
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.filter(active=True), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="With no topic, keyword, category or author, you get the community's top papers of the day.",
    )
    max_papers = forms.IntegerField(min_value=1, max_value=50, label="Papers per email")
    paused_until = forms.DateField(
        required=False, label="Pause until", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="No digests until this day. Leave empty to receive them.",
    )

    class Meta:
        model = Subscriber
        fields = ["topics", "keywords", "categories", "authors", "frequency", "max_papers", "paused_until"]
        widgets = {
            "keywords": forms.Textarea(attrs={"rows": 2}),
            "categories": forms.TextInput(attrs={"placeholder": "cs.CL, cs.LG, stat.*"}),
            "authors": forms.TextInput(attrs={"placeholder": "Geoffrey Hinton, Yann LeCun"}),
        }
        help_texts = {
            "keywords": 'Separate by commas; quote phrases ("knowledge distillation"); start with - to exclude (-survey).',
            "categories": "arXiv categories; cs.* means every computer-science category.",
        }

    def clean_keywords(self):
        return clean_keywords(self.cleaned_data.get("keywords", ""))

    def clean_categories(self):
        return clean_categories(self.cleaned_data.get("categories", ""))

    def clean_authors(self):
        return clean_authors(self.cleaned_data.get("authors", ""))

    def clean_paused_until(self):
        value = self.cleaned_data.get("paused_until")
        if value and value <= timezone.localdate():
            raise ValidationError("Pick a day in the future, or leave it empty.")
        return value



class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(max_length=MAX_EMAIL_CHARS, label="New address")
