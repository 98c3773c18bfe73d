#!/usr/bin/env bash
# `make demo`: migrate, load MovieLens, precompute, then serve the site with
# the RQ worker beside it. The embedded PostgreSQL and Redis start on first
# use (web/embedded.py) and keep their data in .local/services.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
SHARED_SMALL=../shared/data/movielens/ml-latest-small

$PY manage.py migrate --noinput

if [ -n "${MOVIELENS_DIR:-}" ]; then
  data=$MOVIELENS_DIR
elif [ -f "$SHARED_SMALL/ratings.csv" ]; then
  data=$SHARED_SMALL
elif [ -f .local/data/ml-latest-small/ratings.csv ]; then
  data=.local/data/ml-latest-small
elif $PY manage.py download_movielens ml-latest-small --dest .local/data; then
  data=.local/data/ml-latest-small
else
  echo
  echo "*** Could not download ml-latest-small: using a SYNTHETIC data set (not real MovieLens). ***"
  echo
  $PY manage.py generate_movielens .local/data/synthetic-small --shape small
  data=.local/data/synthetic-small
fi

echo "Loading MovieLens from $data"
$PY manage.py load_movielens "$data"

echo "Precomputing per-user scores (and the run's own offline figures, shown on the progress page)"
$PY -m jobs.precompute --evaluate

# The progress page is for operators (the group "operators"): make one, and show how to sign in.
operator_login=$($PY manage.py ensure_operator)

$PY manage.py rqworker &
worker=$!
trap 'kill "$worker" 2>/dev/null || true' EXIT INT TERM

echo
echo "  The site is at http://$HOST:$PORT/  (precompute runs: http://$HOST:$PORT/progress/)"
echo "  Operators sign in at http://$HOST:$PORT/accounts/login/?next=/progress/ with:"
echo "$operator_login" | sed 's/^/    /'
echo "  Stop with Ctrl+C; the data stays in .local/services (make stop stops the databases)."
echo
$PY -m web.serve --bind "$HOST:$PORT" --reload
