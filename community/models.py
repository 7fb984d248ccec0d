"""The research community on the site: members (a display name over Django's user), sign-in
links, votes, paper submissions, comments and reports.

Counts shown on every page live on the paper itself (Paper.community_votes and
Paper.community_comments), kept in step by the functions in votes.py and comments.py in the
same transaction as the row they count, so lists, feeds and emails read them without a join."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from digest.models import Batch, Paper


class Member(models.Model):
    """A person on the site. Readers sign in by an emailed link and have no password; the
    address is Django's user.email, so the member and the subscription of the same address
    are one identity."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member")
    display_name = models.CharField(max_length=30, blank=True, help_text="Shown beside submissions and comments")
    trusted = models.BooleanField(default=False, help_text="Submissions skip the moderation queue")
    banned = models.BooleanField(default=False, help_text="Votes stop counting; no new votes, submissions or comments")
    banned_at = models.DateTimeField(null=True, blank=True)
    ban_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Case-insensitive, so nobody can pass as "Alice" by signing up as "alice".
            models.UniqueConstraint(Lower("display_name"), condition=~Q(display_name=""),
                                    name="member_display_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"member #{self.pk}"

    @property
    def public_name(self) -> str:
        return self.display_name or "a reader"


class SignInRequest(models.Model):
    """One "mail me a sign-in link" request. The link signs this row's id and nonce; using it
    sets used_at with a conditional UPDATE, so a link works once, whoever races for it."""

    email = models.EmailField(max_length=254)
    nonce = models.CharField(max_length=32, editable=False)
    next_url = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # What the mail task did: sent, throttled, suppressed, staff (see tasks.send_sign_in_link).
    outcome = models.CharField(max_length=20, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sign-in request #{self.pk}"


class Vote(models.Model):
    class Via(models.TextChoices):
        WEB = "web", "On the site"
        EMAIL = "email", "From a digest email"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="votes")
    via = models.CharField(max_length=5, choices=Via.choices, default=Via.WEB)
    # True when this vote put the paper into the voter's subscription as "more like this"
    # (so that removing the vote takes back only what the vote added).
    liked = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "paper"], name="vote_once_per_person")]

    def __str__(self) -> str:
        return f"vote by {self.user_id} for {self.paper_id}"


class Submission(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="submissions")
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="submissions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reason = models.TextField(blank=True, help_text="Why it was rejected; the submitter sees it")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One live submission of a paper per batch; a rejected one does not block another.
            models.UniqueConstraint(fields=["batch", "paper"], condition=~Q(status="rejected"),
                                    name="submission_once_per_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.paper} ({self.get_status_display().lower()})"


class Comment(models.Model):
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="comments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    body = models.TextField(help_text="Plain text; links are made clickable when shown")
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    hidden = models.BooleanField(default=False, help_text="Hidden by a curator")
    hidden_reason = models.CharField(max_length=300, blank=True)
    hidden_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["paper", "created_at"])]

    def __str__(self) -> str:
        return self.body[:80]


class CommentReport(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comment_reports")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="report_once_per_person")]

    def __str__(self) -> str:
        return f"report on comment {self.comment_id}"
