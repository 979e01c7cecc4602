# Fengqiao: two commands.
#   make demo   install from the lock file, simulate a city, run every stage through Airflow
#   make test   install from the lock file and run the test suite
PYTHON ?= python3.11
UV_VERSION := 0.13.8
export FENGQIAO_HOME ?= $(CURDIR)/var
DEMO := $(FENGQIAO_HOME)/demo
SCALE ?= city
SEED ?= 42

.PHONY: demo test install clean

.venv/.installed: uv.lock pyproject.toml
	@command -v java >/dev/null || { echo "Java 17+ is needed for Spark (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	.tools/bin/uv sync --frozen --python $(PYTHON)
	@touch $@

install: .venv/.installed

demo: install
	rm -rf $(DEMO)
	.venv/bin/fengqiao simulate --out $(DEMO)/source --seed $(SEED) --scale $(SCALE)
	.venv/bin/fengqiao run --source $(DEMO)/source --lake $(DEMO)/lake
	.venv/bin/fengqiao backtest --lake $(DEMO)/lake --truth $(DEMO)/source/truth

test: install
	.venv/bin/python -m pytest

clean:
	rm -rf .venv .tools var
