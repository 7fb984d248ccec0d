"""Thin Celery tasks: they take ids and call the functions in community.signin."""

from __future__ import annotations

import smtplib

from celery import shared_task

from . import signin


@shared_task(bind=True, ignore_result=True, max_retries=3)
def send_sign_in_link(self, request_id: int) -> str:
    try:
        return signin.send_link(request_id)
    except (smtplib.SMTPException, OSError) as exc:
        if self.app.conf.task_always_eager:
            raise  # in-process there is no broker to hold a retry; on_commit(robust=True) logs it
        raise self.retry(exc=exc, countdown=30) from None


@shared_task(ignore_result=True)
def prune_sign_in_requests() -> int:
    return signin.prune()
