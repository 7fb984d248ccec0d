from __future__ import annotations

from django import forms

from digest.models import Topic

from .models import Frequency
from .services import clean_categories


class SubscribeForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"placeholder": "you@example.org", "autocomplete": "email"}))
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.filter(active=True), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    keywords = forms.CharField(
        max_length=500, required=False,
        help_text='Optional keywords or phrases, separated by commas: LoRA, "knowledge distillation", -survey',
    )
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.DAILY)
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty")

    def clean(self):
        data = super().clean()
        if not data.get("topics") and not (data.get("keywords") or "").strip():
            raise forms.ValidationError("Pick at least one topic or type a keyword, so we know what to send you.")
        return data
