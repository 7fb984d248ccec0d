from __future__ import annotations

from django import forms
from django.conf import settings

from .names import MAX_LENGTH


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"autocomplete": "email", "placeholder": "you@example.org"}))
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(required=False, label="Leave this empty")


class DisplayNameForm(forms.Form):
    display_name = forms.CharField(
        max_length=60, label="Display name",
        help_text=f"Shown beside the papers you submit and your comments. 2 to {MAX_LENGTH} letters, digits, "
                  "spaces and . _ - '",
    )


class SubmitForm(forms.Form):
    paper = forms.CharField(
        max_length=300, label="arXiv id or link",
        widget=forms.TextInput(attrs={"placeholder": "2403.12345 or https://arxiv.org/abs/2403.12345"}),
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Your comment", widget=forms.Textarea(attrs={"rows": 4}),
        # A little over the limit, so that the refusal names the length instead of a generic error.
        max_length=settings.COMMENT_MAX_CHARS * 2,
        help_text="Plain text; links become clickable.",
    )


class ReportForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="What is wrong with it? (optional)")


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text="The submitter sees this on their page.",
    )
