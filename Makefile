# hybridize: `make demo` runs the main story end to end, `make test` the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

$(VENV): $(VENV)/.installed

demo: $(VENV)
	$(PY) -m hybridize.tools.demo

test: $(VENV)
	$(PY) -m pytest -q

bench: $(VENV)
	$(PY) -m hybridize.tools.bench

clean:
	rm -rf $(VENV) build dist *.egg-info my_mlp.mlir
