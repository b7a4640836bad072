# hybridize: `make demo` runs the main story end to end, `make test` the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# MXNet 1.9.1 needs numpy<1.24 and has no torch: it gets a venv of its own.
MXVENV := .venv-mxnet
MXPY := $(MXVENV)/bin/python

.PHONY: demo test bench fuzz clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev,models]'
	touch $@

$(VENV): $(VENV)/.installed

$(MXVENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(MXVENV)
	$(MXVENV)/bin/pip install -q mxnet==1.9.1 'numpy<1.24'
	$(MXVENV)/bin/pip install -q -e '.[dev]' 'numpy<1.24'
	touch $@

$(MXVENV): $(MXVENV)/.installed

# System packages: Graphviz's `dot` draws the pictures, Chromium loads the
# HTML report in the tests. Installed from Debian once (as root), else named.
SYSTEM_DEPS := build/.system-deps
$(SYSTEM_DEPS):
	@mkdir -p $(dir $@)
	@if command -v dot >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update && apt-get install -y graphviz chromium) || \
	  { echo "make: could not install Graphviz and Chromium: run 'apt-get install graphviz chromium' as root" >&2; exit 1; }; \
	else \
	  echo "make: install Graphviz (the dot command) and Chromium with your package manager (Debian: apt-get install graphviz chromium)" >&2; exit 1; \
	fi
	@touch $@

demo: $(VENV) $(SYSTEM_DEPS)
	$(PY) -m hybridize.tools.demo

# MXNet-marked tests first: they export the fixtures (build/mxnet-fixtures/)
# that the main suite then imports without MXNet.
test: $(VENV) $(MXVENV) $(SYSTEM_DEPS)
	$(MXPY) -m pytest -q -m mxnet
	$(PY) -m pytest -q

# Mutation and differential fuzzing (tools/fuzzing.py); FUZZ_BUDGET in seconds.
FUZZ_BUDGET ?= 600
fuzz: $(VENV)
	$(PY) -m hybridize.tools.fuzz --budget $(FUZZ_BUDGET) --out build/fuzz

# AddressSanitizer and UBSan over the generated C of the model zoo and of
# random graphs (tools/sanitize.py); failing cases go to build/sanitize.
.PHONY: sanitize
sanitize: $(VENV)
	$(PY) -m hybridize.tools.sanitize --out build/sanitize

# The coverage sweep (issue 11, tools/coverage.py): transformers architectures
# and plain torch layers, traced as a new user would, built on both backends and
# compared with eager; prints the table. COVERAGE_ARGS e.g. "--category layer --dynamic".
COVERAGE_ARGS ?= --jobs 2
.PHONY: coverage
coverage: $(VENV)
	$(PY) -m hybridize.tools.coverage $(COVERAGE_ARGS) --json build/coverage.json

# The speed table against eager PyTorch and ONNX Runtime (issue 7); the peers
# install into the venv once (constraints keep its torch).
$(VENV)/.bench: $(VENV)/.installed
	$(PIP) install -q -c constraints.txt -e '.[bench]'
	touch $@

bench: $(VENV)/.bench
	$(PY) -m hybridize.tools.bench

clean:
	rm -rf $(VENV) $(MXVENV) build dist *.egg-info my_mlp.mlir my_mlp.svg my_mlp.plan.svg
