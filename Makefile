# Fengqiao: two commands.
#   make demo   install from the lock file, simulate a city, run every stage through Airflow
#   make test   install from the lock file and run the test suite (two pytest-xdist workers: the CI machine's 2 cores)
# The demo's drop is simulated: without FENGQIAO_PSEUDONYM_KEY(_FILE), `fengqiao run` makes a random pseudonym
# key once in $(FENGQIAO_HOME)/demo-pseudonym.key (mode 0600) and reuses it. A real drop needs a key of its
# own (SECURITY.md); `make clean` deletes the demo's.
PYTHON ?= python3.11
UV_VERSION := 0.13.8
export FENGQIAO_HOME ?= $(CURDIR)/var
DEMO := $(FENGQIAO_HOME)/demo
SCALE ?= city
SEED ?= 42

.PHONY: demo test install clean scheduler-trial

.venv/.installed: uv.lock pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is needed for Spark (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	# --compile-bytecode: where Python may not write its bytecode cache (PYTHONDONTWRITEBYTECODE, a read-only
	# environment) every process would compile the libraries it imports again: ~7 s of each run's start.
	.tools/bin/uv sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $@

install: .venv/.installed

demo: install
	rm -rf $(DEMO)
	.venv/bin/fengqiao simulate --out $(DEMO)/source --seed $(SEED) --scale $(SCALE)
	.venv/bin/fengqiao run --source $(DEMO)/source --lake $(DEMO)/lake
	.venv/bin/fengqiao backtest --lake $(DEMO)/lake --truth $(DEMO)/source/truth

# tests/jobs/bronze/test_work_orders_db.py starts a throwaway PostgreSQL server: install its binaries (Debian) when root.
test: install
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing the PostgreSQL server (Debian package postgresql) for the database-source tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } \
	      || { echo "could not install the Debian package postgresql; install it, then run make test again"; exit 1; }; \
	  else \
	    echo "note: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb); the database-source tests will be skipped (install the Debian package postgresql as root)"; \
	  fi; }
	.venv/bin/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=30

# Airflow's real scheduler over drops arriving day by day (PostgreSQL on loopback; UI on 127.0.0.1 until Enter).
scheduler-trial: install
	.venv/bin/fengqiao scheduler-trial --keep

clean:
	rm -rf .venv .tools var
