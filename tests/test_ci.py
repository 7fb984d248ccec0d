"""The way in: `make test` on a brand-new Debian with only python3, and `.ci/run` when
PostgreSQL does not start, run against stand-ins for apt-get, python3, make and initdb that
record what they were asked (nothing is installed and no cluster is made). Also: ruff runs
with the pyflakes rules in `make test` and CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.services import ROOT

RUFF = Path(sys.executable).parent / "ruff"  # installed beside this Python by `make install`


def stand_in(folder: Path, name: str, script: str) -> None:
    """A bash script; with only the stand-ins on PATH, it uses builtins or absolute paths."""
    path = folder / name
    path.write_text("#!/bin/bash\n" + script)
    path.chmod(0o755)


@pytest.fixture
def bin_dir():
    # World-readable, not under pytest's private tmp: as root, pg-cluster.sh runs initdb as postgres.
    folder = Path(tempfile.mkdtemp(prefix="paperpost-stand-ins-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_make_test_on_a_fresh_debian_installs_python3_venv_and_time_before_making_the_venv(bin_dir, tmp_path):
    """Debian's python3 has no ensurepip until python3-venv is installed, so `python3 -m venv`
    fails; GNU time is not there either. Only bash, make, touch and these stand-ins are on PATH."""
    log, installed = tmp_path / "calls.log", tmp_path / "python3-venv-installed"
    for tool in ("bash", "make", "touch"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    stand_in(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}\n'
                                 f'[[ " $* " == *" python3-venv "* ]] && : > {installed}\nexit 0\n')
    stand_in(bin_dir, "sudo", '"$@"\n')
    stand_in(bin_dir, "python3", f"""
case "$*" in
  "-c import ensurepip") [ -e {installed} ];;
  "-c import sys;"*) echo 3.11;;
  "-m venv "*)
    echo "python3 $*" >> {log}
    if [ ! -e {installed} ]; then
      echo "The virtual environment was not created successfully because ensurepip is not available." >&2
      echo "On Debian/Ubuntu systems, you need to install the python3-venv package" >&2
      exit 1
    fi
    /bin/mkdir -p "$3/bin" && printf '#!/bin/bash\\necho "venv python $*" >> {log}\\n' > "$3/bin/python"
    /bin/chmod +x "$3/bin/python";;
  *) echo "unexpected: python3 $*" >> {log}; exit 2;;
esac
""")
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "-C", str(ROOT), "test", f"VENV={venv}", "PYTHON=python3"],
                            env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, capture_output=True, text=True)
    calls = log.read_text().splitlines() if log.exists() else []
    assert calls[:2] and calls[0].startswith("apt-get update"), (calls, result.stderr)
    install = calls[1].split()
    assert install[:2] == ["apt-get", "install"] and {"python3-venv", "time"} <= set(install), calls
    assert calls[2] == f"python3 -m venv {venv}", calls
    assert calls[3].startswith("venv python -m pip install"), calls
    # (It stops at the linter, which the stand-in venv does not have.)
    assert "ruff" in result.stderr and result.returncode != 0


def test_ci_stops_loudly_when_postgresql_does_not_start(bin_dir, tmp_path):
    log = tmp_path / "make.log"
    stand_in(bin_dir, "make", f'echo "make $* DATABASE_URL=${{DATABASE_URL:-}}" >> {log}\n')
    stand_in(bin_dir, "initdb", 'echo "initdb: error: could not create directory: No space left on device"\nexit 1\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PAPERPOST_DATA": str(DATA),
           # A database left in the environment must not stand in for the cluster that failed.
           "DATABASE_URL": f"sqlite:///{tmp_path}/elsewhere.sqlite3"}
    result = subprocess.run([str(ROOT / ".ci" / "run")], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0, result.stdout + result.stderr
    assert ".ci/run: PostgreSQL did not start" in result.stderr
    assert "No space left on device" in result.stderr  # initdb's own words
    # make ran once, for SQLite; not a second time against whatever DATABASE_URL said.
    assert log.read_text().splitlines() == [f"make test DATABASE_URL=sqlite:///{tmp_path}/elsewhere.sqlite3"]


def test_ci_stops_at_once_without_the_shared_data(bin_dir, tmp_path):
    log = tmp_path / "make.log"
    stand_in(bin_dir, "make", f'echo "make $*" >> {log}\n')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PAPERPOST_DATA": str(tmp_path / "nowhere")}
    result = subprocess.run([str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "no shared data set at" in result.stderr
    assert not log.exists()


def test_make_test_and_ci_run_ruff_with_the_pyflakes_rules(tmp_path):
    make = subprocess.run(["make", "-n", "-C", str(ROOT), "test"], capture_output=True, text=True, check=True).stdout
    assert "ruff check ." in make and make.index("ruff check .") < make.index("-m pytest")
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    # The project's configuration finds an undefined name (pyflakes F821), as in the mime bug.
    sample = tmp_path / "sample.py"
    sample.write_text("def header(value):\n    return sanitizefast_address(value)\n")
    found = subprocess.run([str(RUFF), "check", "--config", str(ROOT / "pyproject.toml"), str(sample)],
                           capture_output=True, text=True)
    assert found.returncode == 1 and "F821" in found.stdout and "sanitizefast_address" in found.stdout


def test_the_code_is_ruff_clean():
    result = subprocess.run([str(RUFF), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout

