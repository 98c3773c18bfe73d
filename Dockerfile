# Web site, REST API and RQ worker image (`movielens-web`).
#
#   web:     python -m web.serve ... (the default CMD: granian serving web.wsgi, port 8000)
#   migrate: python manage.py migrate --noinput   (init container of the web Deployment)
#   worker:  python manage.py rqworker
#
# The image is immutable at run time: the code under /app belongs to root and
# the process runs as uid 10001, so it cannot rewrite itself. `skaffold dev`
# runs this very image and syncs changed files into a writable copy of /app
# (see k8s/overlays/dev/ and docs/kubernetes.md), never into the image.
# The base pinned by digest: a rebuild gets the same bytes until this line
# changes (docs/kubernetes.md, "Upgrading": how to move it).
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# A fixed numeric uid/gid, so that Kubernetes can check runAsNonRoot and
# fsGroup-owned volumes (emptyDir) are writable by the app.
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

# Dependencies first: this layer stays cached while only the code changes.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

# `skaffold dev` only (its dev profile passes DEV_LOOP=1): watchfiles, which
# restarts the worker's rqworker on synced code (k8s/overlays/dev). The
# production build leaves it out.
ARG DEV_LOOP=0
COPY requirements-devloop.txt ./
RUN if [ "$DEV_LOOP" = 1 ]; then pip install --no-cache-dir -r requirements-devloop.txt; fi

# The worker recomputes one user's scores with the same algorithm code as the
# precompute job, so the web image carries jobs/ and scoring/ too.
COPY manage.py ./
COPY scoring/ scoring/
COPY jobs/ jobs/
COPY web/ web/

# Static files are collected into the image and served by WhiteNoise. The
# settings need these variables in production mode but do not connect to
# anything at import time; the values exist on this one line only. (The
# settings refuse a SECRET_KEY shorter than 32 characters, hence its length.)
RUN APP_ENV=production \
    SECRET_KEY=build-only-not-a-secret-for-collectstatic \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput

# checkov:skip=CKV_DOCKER_2:Kubernetes ignores HEALTHCHECK; the manifests' probes check the containers (k8s/)
USER 10001:10001

EXPOSE 8000

CMD ["python", "-m", "web.serve", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "2", "--graceful-timeout", "20"]
