# The one entry point for every task. Everything runs from the project's own .venv.
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install test test-cluster lint fmt run demo bench soak clean

install: $(VENV)/.installed

# requirements-test.lock pins every dependency (the versions CI and the image were tested with);
# after changing dependencies in pyproject.toml, regenerate both locks (uv or pip-tools, any
# machine; see the locks' first lines): that tool is not needed here.
$(VENV)/.installed: pyproject.toml requirements-test.lock
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements-test.lock -e '.[test]'
	@$(PY) -c 'import sys; print("installed into $(VENV) with Python", sys.version.split()[0])'
	@touch $@

# Two test profiles (tests/profile.py): CI (.ci/run, with CI=true) runs `ci`, every test with
# every scenario on all five carriers and the fuzzers at their full counts; a developer's run is
# `quick`, each scenario on one carrier, the fuzzers at a few hundred cases, no `long` tests.
# TEST_PROFILE=ci|quick chooses either anywhere. The suite mostly waits on calls in real time,
# but under CI's load more workers than cores left the real-time playout tests missing their
# deadlines, so `ci` runs two; `quick`, lighter, runs three. Chromium (tests/browser, `long`)
# takes a core of its own, so those tests run after the rest, alone. `make test WORKERS=0` runs
# everything in one process.
PROFILE := $(or $(TEST_PROFILE),$(if $(filter true TRUE,$(CI)),ci,quick))
WORKERS ?= $(if $(filter ci,$(PROFILE)),2,3)

test: install
ifeq ($(WORKERS),0)
	$(PY) -m pytest -q
else
	$(PY) -m pytest -q -n $(WORKERS) --dist worksteal --ignore tests/browser
	$(PY) -m pytest -q tests/browser
endif

# Three bridge processes behind nginx with PostgreSQL, on loopback (both must be installed;
# .ci/run installs them). Not part of `make test`: tests/cluster is collected only when named.
test-cluster: install
	$(PY) -m pytest -q tests/cluster

lint: install
	$(VENV)/bin/ruff check bridge tests bench
	$(VENV)/bin/ruff format --check bridge tests bench
	$(VENV)/bin/mypy --strict bridge

fmt: install
	$(VENV)/bin/ruff format bridge tests bench
	$(VENV)/bin/ruff check --fix bridge tests bench

# Without KALLGLOT_API_KEY / TWILIO_* the bridge starts its simulators beside it (and says so).
run: install
	BRIDGE_ROUTES="$${BRIDGE_ROUTES:-deploy/routes.example.toml}" exec $(PY) -m bridge serve

demo: install  # more options: make demo ARGS="--duck -18 --carrier vonage"
	$(PY) -m bridge demo --out demo-out $(ARGS)

bench: install
	$(PY) -m bench.audio
	$(PY) -m bench.load
	$(PY) -m bench.load --calls 50,100 --duck -18 --out bench/results-duck.json

# Ten-minute calls with the carrier's clock skewed (and one stall), in real time: about 11 minutes.
soak: install
	$(PY) -m bench.soak --seconds 600 --ppm 1000 --ppm -1000 --stall-at 300

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-out call-out
