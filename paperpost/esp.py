"""Sending through an ESP's HTTP API (django-anymail), chosen by EMAIL_ESP.

backend_for() names the Django mail backend of an ESP: anymail's own for each, except
Postmark, whose batch endpoint (POST /email/batch: up to 500 different messages in one
request) PostmarkBackend adds as send_batch(). Digests are personal (each subscriber's papers,
links and headers), so the ESPs' other "batch" APIs, which send one content to many with
merge fields or a stored template, do not fit them; those ESPs get one request per message over
one kept-alive HTTP session per chunk.

anymail reads what it needs from the EmailMessage itself (subject, text and HTML bodies,
headers, metadata, tags, tracking flags), never the MIME bytes, so Paperpost's fast MIME
writer (paperpost.mail) is bypassed only where nothing reads its output."""

from __future__ import annotations

import json

import requests
from anymail.backends.postmark import EmailBackend as AnymailPostmarkBackend
from anymail.exceptions import AnymailError, AnymailRecipientsRefused, AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus, AnymailStatus
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# EMAIL_ESP value -> the Django mail backend. anymail has more; these are the ones documented.
BACKENDS = {
    "postmark": "paperpost.esp.PostmarkBackend",
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
    "mailjet": "anymail.backends.mailjet.EmailBackend",
    "sparkpost": "anymail.backends.sparkpost.EmailBackend",
    "resend": "anymail.backends.resend.EmailBackend",
    "mailersend": "anymail.backends.mailersend.EmailBackend",
    "postal": "anymail.backends.postal.EmailBackend",
}
POSTMARK_BATCH_MAX = 500


def backend_for(esp: str) -> str:
    if esp not in BACKENDS:
        raise ImproperlyConfigured(f"EMAIL_ESP={esp!r}: expected one of {', '.join(sorted(BACKENDS))}")
    if esp == "amazon_ses":
        try:
            import boto3  # noqa: F401  (only checked: anymail's SES backend needs it)
        except ImportError:
            raise ImproperlyConfigured(
                "EMAIL_ESP=amazon_ses needs boto3: pip install 'django-anymail[amazon-ses]'") from None
    return BACKENDS[esp]


def anymail_settings(environ) -> dict:
    """ANYMAIL_<NAME>=value environment variables as anymail's settings, e.g.
    ANYMAIL_POSTMARK_SERVER_TOKEN -> ANYMAIL["POSTMARK_SERVER_TOKEN"]."""
    found = {}
    for name, value in environ.items():
        if name.startswith("ANYMAIL_") and name != "ANYMAIL_WEBHOOK_SECRET" and value:
            key = name.removeprefix("ANYMAIL_")
            found[key] = float(value) if key.endswith("REQUESTS_TIMEOUT") else value
    return found


class MessageRefused(AnymailError):
    """One message of a batch the ESP refused (its answer for that message is the text)."""


class PostmarkBackend(AnymailPostmarkBackend):
    """anymail's Postmark backend; send_batch() posts many messages in one request."""

    @property
    def batch_size(self) -> int:
        return max(1, min(POSTMARK_BATCH_MAX, settings.ESP_BATCH_SIZE))

    def send_batch(self, messages: list) -> list[Exception | None]:
        """Per message, None (accepted: its anymail_status says how, with Postmark's message
        id) or the exception it met. A failure of the request itself (no answer, 429, 5xx)
        is raised as anymail raises it for one message."""
        created = self.open()
        try:
            payloads = []
            for message in messages:
                message.anymail_status = AnymailStatus()
                payloads.append(self.build_message_payload(message, self.send_defaults))
            url = self.api_url + "email/batch"
            try:
                response = self.session.post(
                    url, data=json.dumps([p.data for p in payloads]), timeout=self.timeout,
                    headers={"Content-Type": "application/json", "Accept": "application/json",
                             "X-Postmark-Server-Token": self.server_token},
                )
            except requests.RequestException as err:
                kind = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, type(err)), {})
                raise kind(f"Error posting to {url}:", email_message=messages[0], backend=self) from err
            if response.status_code != 200:
                raise AnymailRequestsAPIError(email_message=messages[0], response=response, backend=self)
            answers = self.deserialize_json_response(response, None, messages[0])
            if not isinstance(answers, list) or len(answers) != len(messages):
                raise AnymailRequestsAPIError("Postmark's batch answer does not match the batch",
                                              email_message=messages[0], response=response, backend=self)
            return [self._one(message, payload, answer) for message, payload, answer in
                    zip(messages, payloads, answers)]
        finally:
            if created:
                self.close()

    @staticmethod
    def _one(message, payload, answer: dict) -> Exception | None:
        code = answer.get("ErrorCode", 0)
        recipients = [to.addr_spec for to in payload.to_emails]
        if code == 0:
            status = "queued" if "delivery may be delayed" in answer.get("Message", "") else "sent"
            message.anymail_status.set_recipient_status(
                {to: AnymailRecipientStatus(message_id=answer.get("MessageID"), status=status) for to in recipients})
            return None
        text = f"Postmark error {code}: {answer.get('Message', '')}"
        if code == 406:  # inactive recipient: Postmark saw a hard bounce or a complaint
            message.anymail_status.set_recipient_status(
                {to: AnymailRecipientStatus(message_id=None, status="rejected") for to in recipients})
            return AnymailRecipientsRefused(text, email_message=message)
        return MessageRefused(text, email_message=message)
