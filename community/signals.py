"""The subscription and the community account of one address are one person: an export of
the subscription includes the person's community data, erasing the subscription erases it,
and a confirmed change of address moves the account along."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.dispatch import receiver

from subscribers.lifecycle import address_changed, collect_export, person_deleted

from .members import community_data, delete_member, user_for_email, username_for

log = logging.getLogger(__name__)


@receiver(collect_export, dispatch_uid="community-export")
def _export(sender, subscriber, **kwargs) -> dict:
    user = user_for_email(subscriber.email, create=False)
    return {"community": community_data(user) if user is not None else None}


@receiver(person_deleted, dispatch_uid="community-delete")
def _deleted(sender, email, **kwargs) -> None:
    user = user_for_email(email, create=False)
    if user is not None:
        delete_member(user, with_subscription=False)


@receiver(address_changed, dispatch_uid="community-address")
def _moved(sender, old, new, **kwargs) -> None:
    user = user_for_email(old, create=False)
    if user is None or user.is_staff or user_for_email(new, create=False) is not None:
        return  # a curator's account, or the new address has an account of its own: leave both
    get_user_model().objects.filter(pk=user.pk).update(email=new, username=username_for(new))
    log.info("member user=%s follows their subscription's new address", user.pk)
