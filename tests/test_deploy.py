import subprocess
import sys
from pathlib import Path

from tests.services import child_env

ROOT = Path(__file__).resolve().parent.parent


def check_deploy(tmp_path, **overrides):
    env = child_env(**{
        "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-0123456789",
        "SITE_URL": "https://papers.example.org",
        "DEBUG": "0",
        "PAPERPOST_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/deploy.sqlite3",
        "ANYMAIL_WEBHOOK_SECRET": "esp:a-long-random-webhook-password",
        **overrides,
    })
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )


def test_check_deploy_is_clean_under_production_settings(tmp_path):
    result = check_deploy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_the_webhooks_have_no_secret(tmp_path):
    result = check_deploy(tmp_path, ANYMAIL_WEBHOOK_SECRET="")
    assert result.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET" in result.stderr and "paperpost.W001" in result.stderr


def test_a_bad_setting_names_the_variable(tmp_path):
    env = child_env(DEBUG="maybe", PAPERPOST_VAR_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "DEBUG='maybe'" in result.stderr


def test_site_url_follows_the_port_served(tmp_path):
    """`PORT=8080 make run` serves on 8080, so every absolute link must say 8080 too."""
    env = child_env(PORT="8080", PAPERPOST_VAR_DIR=str(tmp_path), DEBUG="1")
    env.pop("SITE_URL", None)
    script = (
        "from django.conf import settings; from django.test import Client; "
        "from subscribers.emails import absolute; "
        "print(settings.SITE_URL); print(settings.CSRF_TRUSTED_ORIGINS); print(absolute('/u/x/unsubscribe/')); "
        "print(Client().get('/robots.txt').content.decode())"
    )
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "http://127.0.0.1:8080" and "http://127.0.0.1:8080" in lines[1]
    assert lines[2] == "http://127.0.0.1:8080/u/x/unsubscribe/"
    assert "Sitemap: http://127.0.0.1:8080/sitemap.xml" in result.stdout and ":8000" not in result.stdout
    # An explicit SITE_URL (production, behind a proxy) still wins.
    env["SITE_URL"] = "https://papers.example.org"
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.stdout.splitlines()[0] == "https://papers.example.org"


def test_make_run_passes_the_port_to_every_step():
    makefile = (ROOT / "Makefile").read_text()
    assert "export PORT" in makefile
