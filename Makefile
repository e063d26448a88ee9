# maildesk: `make test` and `make demo` do all their own set-up on a fresh Debian (as root).
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=
# Two workers: the suite waits on servers as much as it computes (each worker starts its own Dovecot).
PYTEST_WORKERS ?= 2

.PHONY: test lint demo bench compile system-deps clean

system-deps:
	@command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 || { \
	  echo "installing Debian's dovecot-imapd (test and demo IMAP server)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }
	@command -v systemd-analyze >/dev/null 2>&1 || { \
	  echo "installing Debian's systemd (systemd-analyze checks the unit; no systemd needs to run)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; }
	@python3 -c 'import venv, ensurepip' 2>/dev/null || { \
	  echo "installing python3-venv"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

# The checkout is installed editable: byte-compile it as installing the wheel would, since this
# environment may set PYTHONDONTWRITEBYTECODE (then every start compiled all of maildesk, ~0.1 s).
compile: $(VENV)/.installed
	@$(PY) -m compileall -q maildesk

test: system-deps $(VENV)/.installed compile lint
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# ruff (style, imports, bug patterns) over everything; mypy --strict over the package (config in pyproject.toml).
lint: $(VENV)/.installed
	$(PY) -m ruff check maildesk tests bench demo
	$(PY) -m mypy

demo: system-deps $(VENV)/.installed compile
	$(PY) demo/run_demo.py

bench: system-deps $(VENV)/.installed compile
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) demo/run bench/out .pytest_cache .mypy_cache .ruff_cache
	find maildesk tests bench -name __pycache__ -prune -exec rm -rf {} +
