"""Paperpost's Celery app with a fault planted in each worker process, for the fault tests
(`celery -A tests.crashing_worker worker`). The worker, the broker, the database and the SMTP
server are all real; only the one function named by PAPERPOST_TEST_CRASH raises:

- `render:ADDR,ADDR`: building the digest email for these recipients raises ValueError;
- `rank`: ranking raises OverflowError for every chunk and every row (like a weekly edition
  too large for one ranking pass);
- `prepare-once`: reading the sent-papers ledger fails once per worker process, while a chunk
  is being prepared (a database hiccup).
"""

import os

from celery.signals import worker_process_init

from paperpost.celery import app

__all__ = ["app"]


@worker_process_init.connect
def plant_the_fault(**kwargs):
    fault = os.environ.get("PAPERPOST_TEST_CRASH", "")
    kind, _, arg = fault.partition(":")
    from digest.selection import PeriodContent
    from subscribers import emails, ledger, sending

    if kind == "render":
        victims = set(arg.split(","))
        real = sending.digest_message

        def digest_message(digest):
            if digest.recipient.email in victims:
                raise ValueError(f"planted: cannot render for {digest.recipient.email}")
            return real(digest)

        sending.digest_message = digest_message
        assert emails.digest_message is real
    elif kind == "rank":
        def rank_many(self, interests_list):
            raise OverflowError("planted: more papers than one ranking pass handles")

        PeriodContent.rank_many = rank_many
    elif kind == "prepare-once":
        real_already_sent = ledger.already_sent
        state = {"failed": False}

        def already_sent(subscriber_ids, paper_ids):
            if not state["failed"]:
                state["failed"] = True
                raise ConnectionError("planted: the database went away for a moment")
            return real_already_sent(subscriber_ids, paper_ids)

        ledger.already_sent = already_sent
    elif fault:
        raise ValueError(f"PAPERPOST_TEST_CRASH={fault!r}: expected render:ADDR,..., rank or prepare-once")
