#!/usr/bin/env bash
# The data `make run` shows: real inputs from samples/ (samples/README.md says where each
# comes from and under which licence), ingested and published. Running it again changes
# nothing. With arguments (`make run SAMPLE=file.xml`), those inputs are ingested instead and
# the latest day is published.
set -euo pipefail
PY=${PY:-.venv/bin/python}
if [ "$#" -gt 0 ]; then
  "$PY" manage.py ingest "$@"
  "$PY" manage.py publish
  exit 0
fi
# Two days of one demo week: the 93-paper page (its date line says only "Mar 19") on Thursday
# 30 July 2026, and on Friday 31 July the Hugging Face daily papers of that day followed by 30
# machine-learning papers of an arXiv feed (announced 28 Nov 2024, filed under the demo day so
# that the first screen shows authors, votes and links together).
"$PY" manage.py ingest samples/daily-papers-page.txt --date 2026-07-30
"$PY" manage.py ingest samples/hf-daily-papers-2026-07-31.json samples/arxiv-rss-2024-11-28-ml30.xml --date 2026-07-31
"$PY" manage.py publish --date 2026-07-30
"$PY" manage.py publish --date 2026-07-31
