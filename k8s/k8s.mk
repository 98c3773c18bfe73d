# Kubernetes targets, included from the main Makefile (`include k8s/k8s.mk`).
# The walk-through is docs/kubernetes.md. In short, on a fresh minikube:
#
#   make k8s-cluster        # minikube with enough CPU and memory, ingress, metrics
#   make k8s-db             # namespace + Secrets + Postgres + Redis + the two database roles, once
#   make k8s-dev            # skaffold dev of web, worker and the precompute CronJob
#   make k8s-run            # or: the production overlay, once
#   make k8s-load           # load a MovieLens folder into the cluster's database
#   make k8s-operator       # create (or reset) the operator account from its Secret
#   make k8s-operator-password   # print the operator's password
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
# Calico enforces the prod overlay's NetworkPolicies; minikube's default
# network plugin ignores them.
MINIKUBE_CNI ?= calico

# Everything runs in this namespace (k8s/cluster/namespace.yaml, set by both
# overlays and k8s/db); every kubectl here names it.
K8S_NAMESPACE := movielens
K8S := $(KUBECTL) --namespace $(K8S_NAMESPACE)

# Secrets referenced by the manifests under k8s/ (the tests check the names
# and keys against the manifests).
K8S_DB_SECRET := movielens-db
# The passwords of the two login roles of web/dbroles/roles.py: the owner (migrations, the precompute job, the
# loader) and the data-only app role (web, worker). One Secret each, so a pod can be given one and not the other.
K8S_DB_OWNER_SECRET := movielens-db-owner
K8S_DB_APP_SECRET := movielens-db-app
K8S_APP_SECRET := movielens-app
K8S_REDIS_SECRET := movielens-redis
K8S_OPERATOR_SECRET := movielens-operator
K8S_TLS_SECRET := movielens-tls
K8S_DB_USER ?= movielens
PYTHON ?= python3
# The roles' names are fixed in web/dbroles/roles.py and in the manifests' DATABASE_URLs (a test keeps them equal).
DB_OWNER_ROLE := movielens_owner
DB_APP_ROLE := movielens_app
K8S_DB_NAME ?= movielens
K8S_OPERATOR_USER ?= operator
# The prod overlay's Ingress host (k8s/overlays/prod/ingress.yaml).
K8S_HOST := movielens.local

# The database's Skaffold config, apart from the app's skaffold.yaml so that
# no bare `skaffold dev`/`run`/`delete` in the checkout selects it.
SKAFFOLD_DB_FILE := skaffold-db.yaml
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

# `make check-k8s`: the cluster files checked without a cluster. Each
# kustomization is rendered (kubectl kustomize) into K8S_RENDERED and the
# rendered objects are checked. The Kubernetes versions are those
# tests/deploy validates against (KUBERNETES_VERSIONS there; a test keeps the
# two lists equal).
K8S_VALIDATE_VERSIONS := 1.33.0 1.37.0
# k8s/overlays/monitoring (optional: prod plus the Prometheus Operator's
# ServiceMonitor, PodMonitor and PrometheusRule) is rendered and checked too;
# kubernetes-validate has no schema for those three kinds and only warns, and
# tests/deploy/test_monitoring.py checks their shape.
K8S_KUSTOMIZATIONS := k8s/overlays/dev k8s/overlays/prod k8s/db k8s/cluster k8s/overlays/monitoring
K8S_RENDERED := .local/rendered
SKAFFOLD_SCHEMA ?= ../shared/schemas/skaffold-v4beta14.json
# Checkov in a virtualenv of its own: its dependency pins clash with the app's.
CHECKOV_VENV := .local/venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov

.PHONY: check-k8s check-k8s-tools check-k8s-render check-k8s-checkov k8s-cluster k8s-cluster-objects \
        k8s-secrets k8s-db k8s-db-roles k8s-dev k8s-run k8s-job k8s-precompute k8s-load k8s-manage k8s-operator \
        k8s-operator-password k8s-status k8s-delete k8s-rotate-secret-key k8s-forget-old-secret-key

## Check both overlays, the database, the cluster objects, both
## Dockerfiles and both Skaffold files, no cluster needed: render each
## kustomization, kubernetes-validate --strict (newest and oldest supported
## Kubernetes), hadolint at every severity, the Skaffold v4beta14 schema for
## each config, Checkov, then tests/deploy (the same checks plus the points of
## the rendered objects: security, sizes, policies). Part of `make test`.
check-k8s: check-k8s-tools
	$(PY) -m pytest -q -p no:cacheprovider tests/deploy

## The command-line half of check-k8s; `make test` runs it and then every
## test, tests/deploy included, so nothing runs twice.
check-k8s-tools: install check-k8s-render check-k8s-checkov
	@set -e; for version in $(K8S_VALIDATE_VERSIONS); do \
		echo "kubernetes-validate --strict -k $$version: $(K8S_KUSTOMIZATIONS) rendered"; \
		$(VENV)/bin/kubernetes-validate --strict --quiet -k $$version $(K8S_RENDERED)/*.yaml; \
	done
	$(VENV)/bin/hadolint --no-color --failure-threshold info Dockerfile Dockerfile.job
	$(PY) -m tests.deploy.skaffold_schema $(SKAFFOLD_SCHEMA) skaffold.yaml $(SKAFFOLD_DB_FILE)

## Render every kustomization into $(K8S_RENDERED)/<name>.yaml.
check-k8s-render:
	@mkdir -p $(K8S_RENDERED)
	@set -e; for dir in $(K8S_KUSTOMIZATIONS); do \
		echo "kubectl kustomize $$dir"; \
		$(KUBECTL) kustomize $$dir > $(K8S_RENDERED)/$$(basename $$dir).yaml; \
	done

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --no-compile -r requirements-checkov.txt
	touch $@

## Checkov on the rendered objects and both Dockerfiles. Deliberate
## exceptions are skips beside what they excuse: `checkov.io/skipN`
## annotations in the manifests, `# checkov:skip=` comments in the Dockerfiles.
check-k8s-checkov: check-k8s-render $(CHECKOV_VENV)/.installed
	$(CHECKOV) --quiet --compact --skip-download --framework kubernetes $(addprefix -f $(K8S_RENDERED)/,$(addsuffix .yaml,$(notdir $(K8S_KUSTOMIZATIONS))))
	$(CHECKOV) --quiet --compact --skip-download --framework dockerfile -f Dockerfile -f Dockerfile.job

## Start minikube with room for Postgres, the app and a 4-shard precompute
## run, a network plugin that enforces NetworkPolicies, the ingress
## controller and the metrics the web HPA scales on.
k8s-cluster:
	$(MINIKUBE) start --cpus=$(MINIKUBE_CPUS) --memory=$(MINIKUBE_MEMORY) --disk-size=$(MINIKUBE_DISK) --cni=$(MINIKUBE_CNI)
	$(MINIKUBE) addons enable ingress
	$(MINIKUBE) addons enable metrics-server

## The cluster-scoped objects (k8s/cluster): the namespace, with Pod
## Security `restricted` enforced, and the admission policy on the web
## pod's Jobs. Needs cluster-admin; safe to repeat.
k8s-cluster-objects:
	$(KUBECTL) apply -k k8s/cluster

## Create the Secrets movielens-db (the superuser, which only the Postgres
## pod reads), movielens-db-owner and movielens-db-app (the two roles'
## passwords), movielens-app, movielens-redis,
## movielens-operator (the progress page's operator account) and
## movielens-tls (a self-signed certificate for $(K8S_HOST)) with random
## values.
## Idempotent: an existing Secret is kept as it is, never overwritten (the
## database was initialised with its password). The values are generated
## here and go straight to the cluster; none is stored in the repository.
## Server-side apply keeps the values out of the last-applied annotation.
k8s-secrets: k8s-cluster-objects
	@set -e; \
	existing=$$($(K8S) get secret $(K8S_DB_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_DB_SECRET) exists: kept"; \
	else \
		password=$$($(call k8s_random_hex,24)); \
		[ -n "$$password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_DB_SECRET) \
			--from-literal=POSTGRES_USER=$(K8S_DB_USER) \
			--from-literal=POSTGRES_PASSWORD="$$password" \
			--from-literal=POSTGRES_DB=$(K8S_DB_NAME) \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_DB_OWNER_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_DB_OWNER_SECRET) exists: kept"; \
	else \
		owner_password=$$($(call k8s_random_hex,24)); \
		[ -n "$$owner_password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_DB_OWNER_SECRET) \
			--from-literal=DATABASE_OWNER_PASSWORD="$$owner_password" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_DB_APP_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_DB_APP_SECRET) exists: kept"; \
	else \
		app_password=$$($(call k8s_random_hex,24)); \
		[ -n "$$app_password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_DB_APP_SECRET) \
			--from-literal=DATABASE_APP_PASSWORD="$$app_password" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_APP_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_APP_SECRET) exists: kept"; \
	else \
		secret_key=$$($(call k8s_random_hex,32)); \
		[ -n "$$secret_key" ] || { echo "cannot generate a secret key: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_APP_SECRET) \
			--from-literal=SECRET_KEY="$$secret_key" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_REDIS_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_REDIS_SECRET) exists: kept"; \
	else \
		redis_password=$$($(call k8s_random_hex,24)); \
		[ -n "$$redis_password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_REDIS_SECRET) \
			--from-literal=REDIS_PASSWORD="$$redis_password" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_OPERATOR_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_OPERATOR_SECRET) exists: kept"; \
	else \
		operator_password=$$($(call k8s_random_hex,16)); \
		[ -n "$$operator_password" ] || { echo "cannot generate a password: install openssl or python3" >&2; exit 1; }; \
		$(K8S) create secret generic $(K8S_OPERATOR_SECRET) \
			--from-literal=OPERATOR_USERNAME=$(K8S_OPERATOR_USER) \
			--from-literal=OPERATOR_PASSWORD="$$operator_password" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi; \
	existing=$$($(K8S) get secret $(K8S_TLS_SECRET) --ignore-not-found -o name); \
	if [ -n "$$existing" ]; then \
		echo "secret $(K8S_TLS_SECRET) exists: kept"; \
	else \
		tls=$$(mktemp -d); trap 'rm -rf "$$tls"' EXIT; \
		openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$(K8S_HOST)" \
			-addext "subjectAltName=DNS:$(K8S_HOST)" -keyout "$$tls/tls.key" -out "$$tls/tls.crt" 2>/dev/null \
			|| { echo "cannot make a certificate for $(K8S_HOST): install openssl" >&2; exit 1; }; \
		$(K8S) create secret tls $(K8S_TLS_SECRET) --cert="$$tls/tls.crt" --key="$$tls/tls.key" \
			--dry-run=client -o yaml \
		| $(K8S) apply --server-side --field-manager=movielens-make -f -; \
	fi

## Deploy the database (skaffold-db.yaml: Postgres StatefulSet + Redis) once, then set
## up the database's two roles. Safe to repeat: the fixed run id leaves
## running pods alone, and the roles' step changes only what differs.
k8s-db: k8s-secrets
	$(SKAFFOLD) run --filename $(SKAFFOLD_DB_FILE) --label skaffold.dev/run-id=$(K8S_DB_RUN_ID) --status-check=true
	$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) k8s-db-roles

## Create (or update) the owner and app roles with the passwords of their
## Secrets, their privileges, the app role's statement_timeout, and hand the
## owner the tables an earlier version created as the superuser
## (web/dbroles/roles.py). The SQL is printed here by `python -m
## web.dbroles` and piped into psql inside the Postgres pod, which runs it as
## the superuser over its unix socket: the passwords travel through the
## pipe only, never a command line, a pod's env or a log. It first waits
## for Postgres to be ready (up to 10 minutes: a first start pulls the image
## and runs initdb), so it can run alone at any time. Idempotent; also
## the upgrade step of a cluster made before the roles (docs/kubernetes.md).
k8s-db-roles:
	@set -e; \
	$(K8S) rollout status statefulset/postgres --timeout=600s; \
	owner_password=$$($(K8S) get secret $(K8S_DB_OWNER_SECRET) -o jsonpath='{.data.DATABASE_OWNER_PASSWORD}' | base64 -d); \
	app_password=$$($(K8S) get secret $(K8S_DB_APP_SECRET) -o jsonpath='{.data.DATABASE_APP_PASSWORD}' | base64 -d); \
	database=$$($(K8S) get secret $(K8S_DB_SECRET) -o jsonpath='{.data.POSTGRES_DB}' | base64 -d); \
	[ -n "$$owner_password" ] && [ -n "$$app_password" ] && [ -n "$$database" ] \
		|| { echo "the Secrets $(K8S_DB_OWNER_SECRET), $(K8S_DB_APP_SECRET) and $(K8S_DB_SECRET) must exist: make k8s-secrets" >&2; exit 1; }; \
	sql=$$(DATABASE_OWNER_PASSWORD="$$owner_password" DATABASE_APP_PASSWORD="$$app_password" $(PYTHON) -m web.dbroles "$$database"); \
	printf '%s\n' "$$sql" \
	| $(K8S) exec -i statefulset/postgres -c postgres -- sh -c 'psql --no-psqlrc --quiet -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"'; \
	echo "database roles $(DB_OWNER_ROLE) and $(DB_APP_ROLE) are set up in $$database"

## Build both images, deploy web + worker + the precompute CronJob with the
## dev overlay, sync code changes (web reloads, the worker restarts its
## rqworker, the job image is rebuilt), forward http://localhost:8000.
## Ctrl-C removes the app only; the database stays.
k8s-dev: k8s-secrets
	$(SKAFFOLD) dev

## Build and deploy the app and the precompute CronJob once with the
## production overlay (k8s/overlays/prod).
k8s-run: k8s-secrets
	$(SKAFFOLD) run

## The precompute CronJob is part of the app (skaffold.yaml) now: the same as k8s-run.
k8s-job: k8s-run

## Start a precompute run now: a Job made from the CronJob's template.
## SHARDS=N makes it an Indexed Job of N pods (completions = N, and
## JOB_COMPLETIONS = N to match), PARALLELISM=M runs at most M at once.
k8s-precompute:
	@set -e; \
	case "$(SHARDS)$(PARALLELISM)" in *[!0-9]*|'') echo "SHARDS and PARALLELISM must be positive integers" >&2; exit 2;; esac; \
	[ "$(SHARDS)" -ge 1 ] && [ "$(PARALLELISM)" -ge 1 ] || { echo "SHARDS and PARALLELISM must be at least 1" >&2; exit 2; }; \
	name=precompute-$$(date +%s); \
	if [ "$(SHARDS)" = 1 ] && [ "$(PARALLELISM)" = 1 ]; then \
		$(K8S) create job --from=cronjob/precompute "$$name"; \
	else \
		$(K8S) create job --from=cronjob/precompute "$$name" --dry-run=client -o json \
		| $(K8S) patch --local -f - --type=json -o json -p '[{"op": "test", "path": "/spec/template/spec/containers/0/env/0/name", "value": "JOB_COMPLETIONS"}, {"op": "replace", "path": "/spec/template/spec/containers/0/env/0/value", "value": "$(SHARDS)"}, {"op": "replace", "path": "/spec/completions", "value": $(SHARDS)}, {"op": "replace", "path": "/spec/parallelism", "value": $(PARALLELISM)}]' \
		| $(K8S) create -f -; \
	fi; \
	echo "follow it with: $(K8S) logs -f --prefix -l job-name=$$name --max-log-requests=$(PARALLELISM)"

## Load a MovieLens folder into the cluster's database: copy it into the
## web pod's /tmp (an emptyDir) and run load_movielens there as the owner
## role (it rebuilds indexes and VACUUMs, which the web's role may not): the
## owner's URL goes in through stdin for that one process, never into the
## pod's env, a command line or a log.
k8s-load:
	@set -e; \
	[ -f "$(K8S_MOVIELENS_DIR)/ratings.csv" ] || [ -f "$(K8S_MOVIELENS_DIR)/u.data" ] || [ -f "$(K8S_MOVIELENS_DIR)/ratings.dat" ] \
		|| { echo "no MovieLens files in $(K8S_MOVIELENS_DIR): set K8S_MOVIELENS_DIR" >&2; exit 2; }; \
	pods=$$($(K8S) get pod -l app.kubernetes.io/name=web --field-selector=status.phase=Running -o jsonpath='{.items[*].metadata.name}'); \
	pod=$${pods%% *}; \
	[ -n "$$pod" ] || { echo "no running web pod: make k8s-dev or make k8s-run first" >&2; exit 1; }; \
	$(K8S) cp "$(K8S_MOVIELENS_DIR)" "$$pod:/tmp/movielens" -c web; \
	owner_password=$$($(K8S) get secret $(K8S_DB_OWNER_SECRET) -o jsonpath='{.data.DATABASE_OWNER_PASSWORD}' | base64 -d); \
	database=$$($(K8S) get secret $(K8S_DB_SECRET) -o jsonpath='{.data.POSTGRES_DB}' | base64 -d); \
	printf 'postgres://$(DB_OWNER_ROLE):%s@postgres:5432/%s\n' "$$owner_password" "$$database" \
	| $(K8S) exec -i "$$pod" -c web -- sh -c 'IFS= read -r DATABASE_URL && export DATABASE_URL && exec python manage.py load_movielens /tmp/movielens'; \
	$(K8S) exec "$$pod" -c web -- rm -rf /tmp/movielens

## Rotate SECRET_KEY without signing anyone out: a new random key, the
## current one moved to SECRET_KEY_FALLBACKS (sessions and the serving run's
## model, signed with it, stay valid), then web and worker restarted to read
## them. The precompute job signs its model with the new key from its next
## run. Once that run serves and old sessions no longer matter, drop the old
## key with k8s-forget-old-secret-key. One fallback: rotating again drops the
## key before the current one.
k8s-rotate-secret-key:
	@set -e; \
	old_key=$$($(K8S) get secret $(K8S_APP_SECRET) -o jsonpath='{.data.SECRET_KEY}' | base64 -d); \
	[ -n "$$old_key" ] || { echo "secret $(K8S_APP_SECRET) has no SECRET_KEY: make k8s-secrets" >&2; exit 1; }; \
	new_key=$$($(call k8s_random_hex,32)); \
	[ -n "$$new_key" ] || { echo "cannot generate a secret key: install openssl or python3" >&2; exit 1; }; \
	$(K8S) create secret generic $(K8S_APP_SECRET) \
		--from-literal=SECRET_KEY="$$new_key" \
		--from-literal=SECRET_KEY_FALLBACKS="$$old_key" \
		--dry-run=client -o yaml \
	| $(K8S) apply --server-side --force-conflicts --field-manager=movielens-make -f -; \
	$(K8S) rollout restart deployment/web deployment/worker; \
	echo "SECRET_KEY rotated; the previous key stays in SECRET_KEY_FALLBACKS until make k8s-forget-old-secret-key"

## Drop the key that k8s-rotate-secret-key kept: sessions signed with it end,
## and a model signed with it is refused (start a run first).
k8s-forget-old-secret-key:
	@set -e; \
	key=$$($(K8S) get secret $(K8S_APP_SECRET) -o jsonpath='{.data.SECRET_KEY}' | base64 -d); \
	[ -n "$$key" ] || { echo "secret $(K8S_APP_SECRET) has no SECRET_KEY: make k8s-secrets" >&2; exit 1; }; \
	$(K8S) create secret generic $(K8S_APP_SECRET) --from-literal=SECRET_KEY="$$key" --dry-run=client -o yaml \
	| $(K8S) apply --server-side --force-conflicts --field-manager=movielens-make -f -; \
	$(K8S) rollout restart deployment/web deployment/worker

## Run a management command in the web container: make k8s-manage ARGS="showmigrations".
## It runs as the web's data-only role: migrate and load_movielens are refused (k8s-load, the init container).
k8s-manage:
	$(K8S) exec -it deployment/web -c web -- python manage.py $(ARGS)

## Create the operator account of the progress page, or reset its password,
## from the Secret movielens-operator (`make k8s-secrets` made it): the
## password goes through stdin, never a command line, an env var of the pod
## or a log. Safe to repeat.
k8s-operator:
	@set -e; \
	$(K8S) get secret $(K8S_OPERATOR_SECRET) -o jsonpath='{.data.OPERATOR_PASSWORD}' | base64 -d \
	| $(K8S) exec -i deployment/web -c web -- python manage.py ensure_operator --password-stdin --username $(K8S_OPERATOR_USER)

## Print the operator's user name and password (from the Secret).
k8s-operator-password:
	@$(K8S) get secret $(K8S_OPERATOR_SECRET) -o go-template='user name: {{.data.OPERATOR_USERNAME | base64decode}}{{"\n"}}password:  {{.data.OPERATOR_PASSWORD | base64decode}}{{"\n"}}'

## What runs, and the volume that holds the database.
k8s-status:
	$(K8S) get statefulsets,deployments,pods,services,pvc,cronjobs,jobs,ingresses,hpa -l app.kubernetes.io/part-of=movielens

## Remove the app and the precompute CronJob (with its Jobs): `skaffold delete`
## reads skaffold.yaml, the app alone. The database (skaffold-db.yaml), its
## volume, the Secrets and the namespace stay.
k8s-delete:
	$(SKAFFOLD) delete
