# Every target installs what it needs into .venv first, pinned by constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BROWSER := $(VENV)/.browser
JAVA := $(VENV)/.java
# NautilusTrader, the benchmark's peer, pins what constraints.txt excludes: its own venv.
PEERS := .venv-peers/.installed

.PHONY: demo test bench lint typecheck clean lock

$(STAMP): pyproject.toml constraints.txt setup.py vnrec/storage/_scan.c vnrec/replay/_ordered.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,spark]'
	touch $(STAMP)

# The page's end-to-end test drives Debian's chromium (Playwright's own browser download
# does not work here); installed once, as root or through sudo.
$(BROWSER):
	command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	mkdir -p $(VENV) && touch $(BROWSER)

# The Spark test (pyspark local mode) runs on a Java 17 runtime: the machine's, else Debian's.
$(JAVA):
	command -v java >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	mkdir -p $(VENV) && touch $(JAVA)

demo: $(STAMP)
	$(BIN)/vnrec demo

# Two workers (pytest-xdist), a whole module each at a time so that its module-scoped
# fixtures are built once. The suite is mostly processes started, paced and waited on: two
# workers fill both cores, and still overlap waits where another process holds one core.
test: $(STAMP) $(BROWSER) $(JAVA)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n 2 --dist loadscope

# Bytecode compiled first, as a wheel install does: where PYTHONDONTWRITEBYTECODE is set
# (these machines), an editable install would compile vnrec at every command's start.
bench: $(STAMP) $(PEERS)
	$(BIN)/python -m compileall -q vnrec bench
	$(BIN)/python -m bench

# Soft: without it (no registry, no wheel) the bench still runs and its peers row says so.
$(PEERS): constraints-peers.txt
	rm -rf .venv-peers
	{ $(PYTHON) -m venv .venv-peers && \
	  .venv-peers/bin/python -m pip install --quiet --disable-pip-version-check \
	    -c constraints-peers.txt nautilus_trader && touch $(PEERS); } || \
	  { echo "make: NautilusTrader not installed; the bench's peers row is skipped" >&2; \
	    rm -rf .venv-peers; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Re-pin after changing dependencies: resolves in a scratch venv and rewrites constraints.txt.
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	.lockenv/bin/pip freeze --exclude-editable | grep -v '^vnrec' > constraints.txt
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .venv-peers .mypy_cache .ruff_cache .pytest_cache
