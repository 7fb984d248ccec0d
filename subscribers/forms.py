from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from digest.models import Topic

from .likes import MAX_TEXT_CHARS, read_text
from .models import Frequency, Strictness, Subscriber, Weekday
from .schedule import is_zone, zone_names
from .services import MAX_EMAIL_CHARS, clean_about, clean_authors, clean_categories, clean_keywords

ABOUT_HELP = ("Optional: your interests in a sentence or two, in your own words. Papers close in meaning are "
              "picked, even when they use other words. What you say you don't want (\u201cnot NeRF\u201d) is left "
              "out; to drop papers that mention a word, add it as a -keyword.")
# One line per level, shown beside the choice (docs/ranking.md has the numbers).
STRICTNESS_CHOICES = [
    (Strictness.STRICT, "Strict: only strong matches, e.g. your words in the title or several interests agreeing"),
    (Strictness.BALANCED, "Balanced: core matches; a word mentioned once in passing is not enough"),
    (Strictness.BROAD, "Broad: passing mentions too, listed after the strong matches"),
]


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
    about = forms.CharField(
        max_length=1000, required=False, label="About me",
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 1000,
                                     "placeholder": "I work on efficient inference for large language models."}),
        help_text=ABOUT_HELP,
    )
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.DAILY)
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty")
    # The browser's time zone, filled in by static/js/timezone.js; without script it stays
    # empty and the site's DIGEST_TIME_ZONE applies (changeable in the preference centre).
    timezone = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_keywords(self):
        return clean_keywords(self.cleaned_data.get("keywords", ""))

    def clean_about(self):
        return clean_about(self.cleaned_data.get("about", ""))

    def clean_timezone(self):
        # A guess from the browser, never worth refusing a subscription over: unknown is empty.
        value = (self.cleaned_data.get("timezone") or "").strip()
        return value if is_zone(value) else ""

    # No topic and no keyword is a choice too: the community's top papers of the day
    # (digest.selection.wants_top_papers).


class PreferencesForm(forms.ModelForm):
    topics = forms.ModelMultipleChoiceField(
        queryset=Topic.objects.filter(active=True), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="With no topic, keyword, category or author, you get the community's top papers of the day. "
                  "Next to an about-me or several keywords, a topic is the field around them: its papers "
                  "come when your words back them (all of them with broad strictness).",
    )
    strictness = forms.ChoiceField(choices=STRICTNESS_CHOICES, widget=forms.RadioSelect, label="Strictness",
                                   required=False, help_text="How strong a match must be for a paper to be sent.")
    max_papers = forms.IntegerField(min_value=1, max_value=50, label="Papers per email")
    paused_until = forms.DateField(
        required=False, label="Pause until", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="No digests until this day. Leave empty to receive them.",
    )

    timezone = forms.ChoiceField(required=False, label="Time zone")
    send_hour = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Arrives at")
    send_weekday = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Weekly digests arrive on",
        choices=[("", "The day the weekly edition is made")] + list(Weekday.choices),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        default_zone = settings.DIGEST_TIME_ZONE
        self.fields["timezone"].choices = [("", f"The site's default ({default_zone})")] + [
            (name, name.replace("_", " ")) for name in zone_names()
        ]
        self.fields["send_hour"].choices = [("", f"The site's default ({settings.DIGEST_SEND_HOUR:02d}:00)")] + [
            (hour, f"{hour:02d}:00") for hour in range(24)
        ]
        self.fields["send_hour"].help_text = "On your own clock: the digest of a day arrives at this hour of it."

    class Meta:
        model = Subscriber
        fields = ["topics", "keywords", "about", "categories", "authors", "strictness", "frequency", "max_papers",
                  "quiet_day_note", "paused_until", "timezone", "send_hour", "send_weekday", "plain_links"]
        widgets = {
            "keywords": forms.Textarea(attrs={"rows": 2}),
            "about": forms.Textarea(attrs={"rows": 3, "maxlength": 1000,
                                           "placeholder": "I work on efficient inference for large language models."}),
            "categories": forms.TextInput(attrs={"placeholder": "cs.CL, cs.LG, stat.*"}),
            "authors": forms.TextInput(attrs={"placeholder": "Geoffrey Hinton, Yann LeCun"}),
        }
        help_texts = {
            "plain_links": "Link straight to the papers. Otherwise each paper's link passes through "
                           "Paperpost, which counts one click per email and paper (no tracking pixels, "
                           "no open tracking) and takes a click as a gentle \"more like this\".",
            "keywords": 'Separate by commas; quote phrases ("knowledge distillation"); start with - to exclude (-survey). '
                        'Three or more keywords (and no "about me") are read in each other\'s sense: "fusion" next to '
                        '"tokamak, plasma turbulence" means fusion plasma, not sensor fusion.',
            "categories": "arXiv categories; cs.* means every computer-science category.",
            "about": ABOUT_HELP,
            "quiet_day_note": 'On a day when nothing clears your bar, we send no email; tick this to get a '
                              'one-line "nothing strong today" instead.',
        }
        labels = {"about": "About me", "quiet_day_note": "Tell me on quiet days", "plain_links": "Plain links"}

    def clean_keywords(self):
        return clean_keywords(self.cleaned_data.get("keywords", ""))

    def clean_about(self):
        return clean_about(self.cleaned_data.get("about", ""))

    def clean_strictness(self):
        # A form without the choice (an older page, a script) keeps the current level.
        return self.cleaned_data.get("strictness") or self.instance.strictness or Strictness.BALANCED

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


class LikesForm(forms.Form):
    """Papers the person likes: a pasted list of ids and links, or a reference manager's
    BibTeX or RIS export (subscribers.likes reads either)."""

    papers = forms.CharField(
        required=False, max_length=MAX_TEXT_CHARS, label="Papers you like",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "2403.12345, https://arxiv.org/abs/2106.09685"}),
        help_text="arXiv ids or links, separated by commas or lines; or paste BibTeX or RIS entries.",
    )
    file = forms.FileField(required=False, label="…or upload a BibTeX (.bib) or RIS (.ris) file",
                           widget=forms.ClearableFileInput(attrs={"accept": ".bib,.ris,.txt,text/plain"}))

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None and upload.size > MAX_TEXT_CHARS * 2:
            raise ValidationError(f"That file is {upload.size // 1024} KB; at most {MAX_TEXT_CHARS * 2 // 1024} KB, please.")
        if not (data.get("papers") or "").strip() and upload is None:
            raise ValidationError("Paste some arXiv ids or links, or choose a file.")
        return data

    def text(self) -> str:
        upload = self.cleaned_data.get("file")
        if upload is not None:
            return read_text(upload.read())
        return self.cleaned_data.get("papers") or ""
