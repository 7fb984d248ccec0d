"""Input bounds: over-long addresses, NUL bytes and huge keyword or author strings are refused
with a clear message wherever people or operators type them (forms, commands, imports)."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from subscribers.models import Subscriber
from subscribers.tokens import make_token

pytestmark = pytest.mark.django_db

LONG_ADDRESS = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".org"  # 309 characters, each part valid
HUGE = "LoRA " * 20_000  # 100 KB


def test_the_long_address_is_otherwise_well_formed():
    from django.core.validators import validate_email

    assert len(LONG_ADDRESS) > 254
    validate_email(LONG_ADDRESS)  # Django's validator alone lets it through


@pytest.mark.parametrize("args, message", [
    ([LONG_ADDRESS, "--keywords", "LoRA"], "at most 254 characters"),
    (["a@example.org", "--keywords", "LoRA\x00pruning"], "NUL"),
    (["a@example.org\x00", "--keywords", "LoRA"], "NUL"),
    (["a@example.org", "--keywords", HUGE], "keywords: at most 2000 characters"),
    (["a@example.org", "--keywords", "LoRA", "--authors", "Geoffrey Hinton, " + "x" * 100_000],
     "authors: at most 2000 characters"),
    (["a@example.org", "--keywords", "x" * 300], "at most 100 characters each"),
])
def test_add_subscriber_refuses_out_of_bounds_input(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("add_subscriber", *args)
    assert not Subscriber.objects.exists()


def test_an_import_reports_each_out_of_bounds_row_and_keeps_the_rest(tmp_path, capsys):
    path = tmp_path / "list.csv"
    path.write_text(
        "email,keywords,authors\n"
        f"{LONG_ADDRESS},LoRA,\n"
        "nul@example.org,\"LoRA\x00\",\n"
        f"huge@example.org,\"{HUGE}\",\n"
        f"authors@example.org,LoRA,\"{'Hinton, ' * 10_000}\"\n"
        "good@example.org,LoRA,Geoffrey Hinton\n"
    )
    with pytest.raises(CommandError, match="4 of 5 rows were not imported"):
        call_command("import_subscribers", str(path))
    out, err = capsys.readouterr()
    assert "line 2: email: at most 254 characters" in err
    assert "line 3: keywords: NUL characters are not allowed" in err
    assert "line 4: keywords: at most 2000 characters" in err
    assert "line 5: authors: at most 2000 characters" in err
    assert list(Subscriber.objects.values_list("email", flat=True)) == ["good@example.org"]


def test_an_import_with_a_cell_beyond_the_csv_field_limit_gets_a_clear_error(tmp_path):
    path = tmp_path / "list.csv"
    path.write_text(f"email,keywords\nbig@example.org,\"{'x' * 200_000}\"\n")
    with pytest.raises(CommandError, match="larger than"):
        call_command("import_subscribers", str(path))
    assert not Subscriber.objects.exists()


def prefs(**overrides):
    data = {"topics": [], "keywords": "LoRA", "categories": "", "authors": "", "frequency": "daily",
            "max_papers": "10", "paused_until": ""}
    data.update(overrides)
    return data


@pytest.mark.parametrize("field, value, message", [
    ("keywords", HUGE, "at most 2000 characters"),
    ("keywords", "x" * 300, "at most 100 characters each"),
    ("authors", "Geoffrey Hinton, " + "y" * 100_000, "at most 2000 characters"),
    ("authors", "z" * 150, "at most 100 characters each"),
    ("keywords", "LoRA\x00", "Null characters are not allowed"),
    ("categories", "cs.LG, " * 2000, "at most 500 characters"),
])
def test_the_preference_centre_refuses_out_of_bounds_input(make_subscriber, field, value, message):
    subscriber = make_subscriber(keywords="pruning")
    response = Client().post(f"/u/{make_token(subscriber, 'manage')}/", prefs(**{field: value}))
    assert response.status_code == 400 and message in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.keywords == "pruning" and subscriber.authors == ""


@pytest.mark.parametrize("data, message", [
    ({"email": LONG_ADDRESS}, "at most 254 characters"),
    ({"email": "a@example.org", "keywords": "x" * 300}, "at most 100 characters each"),
    ({"email": "a@example.org", "keywords": "LoRA\x00"}, "Null characters are not allowed"),
])
def test_the_subscribe_form_refuses_out_of_bounds_input(data, message):
    response = Client().post("/subscribe/", {"topics": [], "keywords": "LoRA", "frequency": "daily", **data},
                             REMOTE_ADDR="198.51.100.77")
    assert response.status_code == 400 and message in response.content.decode()
    assert not Subscriber.objects.exists()


def test_the_admin_form_refuses_out_of_bounds_input(admin_client, make_subscriber):
    subscriber = make_subscriber(keywords="pruning")
    data = {"email": subscriber.email, "status": "active", "frequency": "daily", "keywords": HUGE,
            "categories": "", "authors": "", "max_papers": "10"}
    response = admin_client.post(f"/admin/subscribers/subscriber/{subscriber.pk}/change/", data)
    assert response.status_code == 200 and "at most 2000 characters" in response.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.keywords == "pruning"
