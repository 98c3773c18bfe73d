# The two commands of the README: `make demo` and `make test`.
# Everything else here is what those two are made of, plus `make bench`.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed

# The virtualenv is installed without byte-compiling (--no-compile below): each module is compiled when first
# imported and its .pyc kept. PYTHONDONTWRITEBYTECODE, which CI images and Docker habits set, would forbid keeping
# it, and then every Python process - the tests start several hundred - compiles Django, NumPy and SciPy from source
# again, several times slower to start. So no recipe here inherits it (docs/decisions.md, "Local services and tests").
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test bench install browser migrate stop clean-data help evaluate loadtest

help:
	@echo "make demo   - install, start embedded PostgreSQL + Redis, load MovieLens, precompute, serve"
	@echo "make test   - install the test requirements (and Chromium) and run every test"
	@echo "make bench  - time ingest, precompute (ml-latest-small and the ml-25m shape), the API under load, title search and events in; medians"
	@echo "make loadtest - 60 s of reads, rating writes and events under the web server while a run publishes -> docs/reliability.md"
	@echo "make evaluate - top-10 metrics of our algorithms and other libraries -> docs/evaluation.md"
	@echo "make stop   - stop the embedded PostgreSQL and Redis (their data stays in .local/)"
	@echo "make clean-data - stop them and delete their data (.local/services, the tests' .local/test-services*)"
	@echo "make check-k8s, make k8s-... - the cluster side: k8s/k8s.mk, docs/kubernetes.md"

# --no-compile: a module is byte-compiled when first imported instead; compiling every installed file up front
# was half of the install's time (docs/decisions.md, "Local services and tests"). The images compile at build.
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet --no-compile -r requirements-dev.txt
	touch $@

install: $(STAMP)

browser:
	@scripts/install-chromium.sh

migrate: install
	$(PY) manage.py migrate --noinput

demo: install
	@scripts/demo.sh

# Two pytest-xdist workers, each with PostgreSQL and Redis of its own (tests/settings.py); a module stays on one
# worker, so its module-scoped data is built once. --no-loadscope-reorder keeps the order tests/conftest.py gives
# (the modules that start processes first); xdist would otherwise put the modules with the most tests first.
PYTEST_WORKERS ?= 2
test: install browser check-k8s-tools
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# About 25 minutes on 2 cores, most of it the ml-25m-shape runs (BENCH_ARGS="" leaves them out).
BENCH_ARGS ?= --large
bench: install
	$(PY) -m bench --write --api $(BENCH_ARGS)

# Mixed load around a publish; nothing acknowledged may be lost, no event stored twice (docs/reliability.md, "Load").
# LOADTEST_ARGS='--seconds 120 --rate 60' changes the length and the rate.
loadtest: install
	$(PY) -m bench.loadtest --write $(LOADTEST_ARGS)

# Offline evaluation against other libraries (docs/evaluation.md); their packages are only for this.
evaluate: install
	$(PIP) install --quiet -r requirements-bench.txt
	$(PY) -m bench.evaluate --write
	$(PY) -m bench.reasons --write
	$(PY) -m bench.watches --write

stop:
	$(PY) -m web.embedded stop
	@for dir in .local/test-services*; do [ ! -d "$$dir" ] || $(PY) -m web.embedded stop "$$dir"; done

clean-data: stop
	rm -rf .local/services .local/test-services*

-include k8s/k8s.mk
