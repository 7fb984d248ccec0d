"""No Docker engine runs here, so check the compose file against the code instead."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_env_names() -> set[str]:
    source = (ROOT / "paperpost" / "settings.py").read_text()
    return set(re.findall(r"""(?:environ\.get|env(?:bool|int|float|list))\(\s*["']([A-Z_]+)["']""", source))


def test_it_has_every_service_of_the_stack():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "mailpit"} <= set(services)


def test_web_worker_and_beat_share_one_image():
    services = compose()["services"]
    images = {services[name]["image"] for name in ("web", "worker", "worker-ingest", "beat", "migrate")}
    builds = {services[name]["build"] for name in ("web", "worker", "worker-ingest", "beat", "migrate")}
    assert images == {"paperpost:latest"} and builds == {"."}
    assert (ROOT / "Dockerfile").exists()


def test_commands_run_the_right_programs():
    services = compose()["services"]
    assert services["web"]["command"][:2] == ["gunicorn", "paperpost.wsgi"]
    from django.conf import settings

    consumed = {}
    for name in ("worker", "worker-ingest"):
        command = services[name]["command"]
        assert command[:4] == ["celery", "-A", "paperpost", "worker"]
        consumed[name] = set(command[command.index("-Q") + 1].split(","))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= consumed["worker"] | consumed["worker-ingest"]
    # Sending has a worker of its own: ingest never waits behind a big send.
    assert consumed["worker"] == {"mail"} and "mail" not in consumed["worker-ingest"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "paperpost", "beat"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]


def test_every_env_name_is_one_the_settings_read():
    known = settings_env_names()
    assert {"DATABASE_URL", "REDIS_URL", "EMAIL_HOST", "SECRET_KEY", "SITE_URL", "DEBUG"} <= known
    for name, service in compose()["services"].items():
        if service.get("image") != "paperpost:latest":
            continue
        unknown = set(service["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which paperpost/settings.py never reads"


def test_healthchecks_and_volumes():
    data = compose()
    services = data["services"]
    for name in ("postgres", "redis", "web", "worker", "mailpit"):
        assert "healthcheck" in services[name], name
    assert {"pg-data", "redis-data", "app-var"} <= set(data["volumes"])
    assert services["web"]["healthcheck"]["test"][-1].endswith("/healthz")


def test_the_app_points_at_the_compose_services():
    env = compose()["services"]["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:")
    assert env["EMAIL_HOST"] == "mailpit"


def test_the_stack_requires_a_webhook_secret():
    # Without one, the bounce and complaint webhooks are not routed at all (see README).
    env = compose()["services"]["web"]["environment"]
    assert env["ANYMAIL_WEBHOOK_SECRET"].startswith("${ANYMAIL_WEBHOOK_SECRET:?")
