# Kubernetes targets, included from the main Makefile (`include k8s/k8s.mk`).
# The walk-through is docs/kubernetes.md. In short, on a fresh minikube:
#
#   make k8s-cluster        # minikube with enough CPU and memory
#   make k8s-db             # Secrets + Postgres + Redis, once
#   make k8s-dev            # skaffold dev of the web app and the worker
#   make k8s-load           # load a MovieLens folder into the cluster's database
#   make k8s-job            # deploy the (suspended) precompute CronJob
#   make k8s-precompute     # start one precompute run now (SHARDS=N to split it)
#   make check-k8s          # check all of it without a cluster (part of make test)
#
# Nothing here deletes the database: `k8s-delete` removes the app and the
# CronJob only.

KUBECTL ?= kubectl
SKAFFOLD ?= skaffold
MINIKUBE ?= minikube
MINIKUBE_CPUS ?= 4
MINIKUBE_MEMORY ?= 8g
MINIKUBE_DISK ?= 20g

# Secrets referenced by the manifests under k8s/ (the tests check the names
# and keys against the manifests).
K8S_DB_SECRET := movielens-db
K8S_APP_SECRET := movielens-app
K8S_REDIS_SECRET := movielens-redis
K8S_DB_USER ?= movielens
K8S_DB_NAME ?= movielens

# skaffold labels everything it deploys, pod templates included, with a
# per-invocation skaffold.dev/run-id: a fresh id on every `skaffold run`
# would change the StatefulSet's pod template and restart Postgres. A fixed
# id makes a repeated `make k8s-db` a no-op.
K8S_DB_RUN_ID ?= movielens-db

# Shards (pods) for one `make k8s-precompute` run, and how many run at once.
SHARDS ?= 1
PARALLELISM ?= $(SHARDS)

# A MovieLens folder on this machine for `make k8s-load`.
K8S_MOVIELENS_DIR ?= $(or $(MOVIELENS_DIR),../shared/data/movielens/ml-latest-small)

# A random hex string of $(1) bytes: openssl, else Python's secrets module.
k8s_random_hex = { openssl rand -hex $(1) 2>/dev/null || python3 -c 'import secrets; print(secrets.token_hex($(1)))'; }

# `make check-k8s`: the cluster files checked without a cluster. The
# Kubernetes versions are those tests/deploy validates against
# (KUBERNETES_VERSIONS there; a test keeps the two lists equal).
K8S_VALIDATE_VERSIONS := 1.33.0 1.37.0
K8S_MANIFESTS = $(sort $(wildcard k8s/*/*.yaml k8s/*/*/*.yaml))
SKAFFOLD_SCHEMA ?= ../shared/schemas/skaffold-v4beta14.json

.PHONY: check-k8s check-k8s-tools k8s-cluster k8s-secrets k8s-db k8s-dev k8s-run k8s-job k8s-precompute \
        k8s-load k8s-manage k8s-dev-restart-worker k8s-status k8s-delete

## Check every manifest, both Dockerfiles and skaffold.yaml, no cluster
## needed: kubernetes-validate --strict (newest and oldest supported
## Kubernetes), hadolint at every severity, the Skaffold v4beta14 schema for
## each module, then tests/deploy (the same checks plus the consistency of
## manifests, skaffold.yaml, Dockerfiles and the code). Part of `make test`.
check-k8s: check-k8s-tools
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy

## The command-line half of check-k8s; `make test` runs it and then every
## test, tests/deploy included, so nothing runs twice.
check-k8s-tools: install
	@set -e; for version in $(K8S_VALIDATE_VERSIONS); do \
		echo "kubernetes-validate --strict -k $$version: $(words $(K8S_MANIFESTS)) manifests"; \
		$(VENV)/bin/kubernetes-validate --strict --quiet -k $$version $(K8S_MANIFESTS); \
	done
	$(VENV)/bin/hadolint --no-color --failure-threshold info Dockerfile Dockerfile.job
	$(PY) -m tests.deploy.skaffold_schema $(SKAFFOLD_SCHEMA) skaffold.yaml

## Start minikube with room for Postgres, the app and a 2-CPU precompute pod.
k8s-cluster:
	$(MINIKUBE) start --cpus=$(MINIKUBE_CPUS) --memory=$(MINIKUBE_MEMORY) --disk-size=$(MINIKUBE_DISK)

## Create the Secrets movielens-db, movielens-app and movielens-redis with
## random values.
## Idempotent: an existing Secret is kept as it is, never overwritten (the
## database was initialised with its password). The values are generated
## here and go straight to the cluster; none is stored in the repository.
## Server-side apply keeps the values out of the last-applied annotation.
k8s-secrets:
	@set -e; \
	existing=$$($(KUBECTL) get secret $(K8S_DB_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_DB_SECRET) exists: kept"; \
	else \
		password=$$($(call k8s_random_hex,24)); \
		[ -n "$$password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(KUBECTL) create secret generic $(K8S_DB_SECRET) \
			--from-literal=POSTGRES_USER=$(K8S_DB_USER) \
			--from-literal=POSTGRES_PASSWORD="$$password" \
			--from-literal=POSTGRES_DB=$(K8S_DB_NAME) \
			--dry-run=client -o yaml \
		| $(KUBECTL) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(KUBECTL) get secret $(K8S_APP_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_APP_SECRET) exists: kept"; \
	else \
		secret_key=$$($(call k8s_random_hex,32)); \
		[ -n "$$secret_key" ] || { echo "cannot generate a secret key: install openssl or python3" >&2; exit 1; }; \
		$(KUBECTL) create secret generic $(K8S_APP_SECRET) \
			--from-literal=SECRET_KEY="$$secret_key" \
			--dry-run=client -o yaml \
		| $(KUBECTL) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(KUBECTL) get secret $(K8S_REDIS_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_REDIS_SECRET) exists: kept"; \
	else \
		redis_password=$$($(call k8s_random_hex,24)); \
		[ -n "$$redis_password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(KUBECTL) create secret generic $(K8S_REDIS_SECRET) \
			--from-literal=REDIS_PASSWORD="$$redis_password" \
			--dry-run=client -o yaml \
		| $(KUBECTL) apply --server-side --field-manager=movielens-make -f -; \
	fi

## Deploy the database module (Postgres StatefulSet + Redis) once. Safe to
## repeat: the fixed run id leaves running pods alone.
k8s-db: k8s-secrets
	$(SKAFFOLD) run -m db --label skaffold.dev/run-id=$(K8S_DB_RUN_ID) --status-check=true

## Build the web image, deploy web + worker, sync code changes, forward
## http://localhost:8000. Ctrl-C removes the app only; the database stays.
k8s-dev: k8s-secrets
	$(SKAFFOLD) dev -m app

## Build and deploy the app once with the production manifests.
k8s-run: k8s-secrets
	$(SKAFFOLD) run -m app

## Build the job image and deploy the suspended precompute CronJob.
k8s-job: k8s-secrets
	$(SKAFFOLD) run -m job

## Start a precompute run now: a Job made from the CronJob's template.
## SHARDS=N makes it an Indexed Job of N pods (completions = N, and
## JOB_COMPLETIONS = N to match), PARALLELISM=M runs at most M at once.
k8s-precompute:
	@set -e; \
	case "$(SHARDS)$(PARALLELISM)" in *[!0-9]*|'') echo "SHARDS and PARALLELISM must be positive integers" >&2; exit 2;; esac; \
	[ "$(SHARDS)" -ge 1 ] && [ "$(PARALLELISM)" -ge 1 ] || { echo "SHARDS and PARALLELISM must be at least 1" >&2; exit 2; }; \
	name=precompute-$$(date +%s); \
	if [ "$(SHARDS)" = 1 ] && [ "$(PARALLELISM)" = 1 ]; then \
		$(KUBECTL) create job --from=cronjob/precompute "$$name"; \
	else \
		$(KUBECTL) create job --from=cronjob/precompute "$$name" --dry-run=client -o json \
		| $(KUBECTL) patch --local -f - --type=json -o json -p '[{"op": "test", "path": "/spec/template/spec/containers/0/env/0/name", "value": "JOB_COMPLETIONS"}, {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": "$(SHARDS)"}, {"op": "replace", "path": "/spec/completions", "value": $(SHARDS)}, {"op": "replace", "path": "/spec/parallelism", "value": $(PARALLELISM)}]' \
		| $(KUBECTL) create -f -; \
	fi; \
	echo "follow it with: $(KUBECTL) logs -f --prefix -l job-name=$$name --max-log-requests=$(PARALLELISM)"

## Load a MovieLens folder into the cluster's database: copy it into the
## web pod's /tmp (an emptyDir) and run load_movielens there.
k8s-load:
	@set -e; \
	[ -f "$(K8S_MOVIELENS_DIR)/ratings.csv" ] || [ -f "$(K8S_MOVIELENS_DIR)/u.data" ] || [ -f "$(K8S_MOVIELENS_DIR)/ratings.dat" ] \
		|| { echo "no MovieLens files in $(K8S_MOVIELENS_DIR): set K8S_MOVIELENS_DIR" >&2; exit 2; }; \
	pods=$$($(KUBECTL) get pod -l app.kubernetes.io/name=web --field-selector=status.phase=Running -o jsonpath='{.items[*].metadata.name}'); \
	pod=$${pods%% *}; \
	[ -n "$$pod" ] || { echo "no running web pod: make k8s-dev or make k8s-run first" >&2; exit 1; }; \
	$(KUBECTL) cp "$(K8S_MOVIELENS_DIR)" "$$pod:/tmp/movielens" -c web; \
	$(KUBECTL) exec "$$pod" -c web -- python manage.py load_movielens /tmp/movielens; \
	$(KUBECTL) exec "$$pod" -c web -- rm -rf /tmp/movielens

## Run a management command in the web container: make k8s-manage ARGS="migrate".
k8s-manage:
	$(KUBECTL) exec -it deployment/web -c web -- python manage.py $(ARGS)

## Restart the worker process after `make k8s-dev` synced code it had
## imported at start-up. Only the container restarts, so the synced copy of
## /app (an emptyDir in the dev manifests) is kept.
k8s-dev-restart-worker:
	$(KUBECTL) exec deployment/worker -c worker -- sh -c 'kill -TERM 1'

## What runs, and the volume that holds the database.
k8s-status:
	$(KUBECTL) get statefulsets,deployments,pods,services,pvc,cronjobs,jobs -l app.kubernetes.io/part-of=movielens

## Remove the app and the precompute CronJob (with its Jobs). The database
## module, its volume and the Secrets stay.
k8s-delete:
	$(SKAFFOLD) delete -m app,job
