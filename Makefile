# Two commands do all set-up: `make run` (the pipeline on the bundled sample) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp
SCRIPTS := synthetic_data_setup.py tcp_pattern_analyzer.py train_synthetic_models_improved.py

.PHONY: run test venv sample clean peer-venv

venv: $(STAMP)

# torch goes in first and alone, pinned: otherwise sdv's unpinned torch pulls a multi-GB CUDA build.
# requirements-nodeps.txt: packages whose own pins contradict ours (anonymeter: numpy<1.27), without them.
$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$$(grep -E '^torch==' requirements.txt)"
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# `make run DATA=path/to/table.csv` runs the three stages on a user's table, into a folder of its own
# (synthetic_datasets/<file name>/ unless OUTPUT_DIR says otherwise).
DATA ?=
OUTPUT_DIR ?= $(if $(DATA),synthetic_datasets/$(basename $(basename $(notdir $(DATA)))),synthetic_datasets)
RUN_ARGS := $(if $(DATA),--data "$(DATA)") --output-dir "$(OUTPUT_DIR)"
# The training script fits its two models at once (Ray, one core each) where the machine has two
# cores or more; `make run WORKERS=1` fits them one after the other in one process.
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ "$$n" -ge 2 ] && echo 2 || echo 1)

run: $(STAMP)
	@for script in $(SCRIPTS); do \
	  extra=""; case $$script in train_*) [ "$(WORKERS)" -ge 2 ] && extra="--workers $(WORKERS)";; esac; \
	  if [ -f $$script ]; then \
	    echo "==> $(PY) $$script $(RUN_ARGS) $$extra"; $(PY) $$script $(RUN_ARGS) $$extra || exit $$?; \
	  else \
	    echo "==> $$script is not there yet: skipped"; \
	  fi; \
	done

# Two workers; tests/conftest.py keeps the tests that share a module's trained model on one.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile tests

sample: $(STAMP)
	$(PY) data/make_sample_dataset.py

# Benchmark-only peer (MOSTLY AI's TabularARGN) in a venv of its own, never a requirement of the project:
# benchmarks/peers.py runs it in a subprocess and skips without it. torch first and alone, as above; then
# the engine, whose torchvision/torchaudio builds do not match the CPU torch and break `import transformers`.
PEER_VENV  := benchmarks/.peer-venv
PEER_PY    := $(PEER_VENV)/bin/python
PEER_REQS  := benchmarks/peer-requirements.txt
PEER_STAMP := $(PEER_VENV)/.requirements.stamp

peer-venv: $(PEER_STAMP)

$(PEER_STAMP): $(PEER_REQS)
	test -x $(PEER_PY) || $(PYTHON) -m venv $(PEER_VENV)
	$(PEER_PY) -m pip install --quiet --upgrade pip
	$(PEER_PY) -m pip install --quiet "$$(grep -E '^torch==' $(PEER_REQS))"
	$(PEER_PY) -m pip install --quiet -r $(PEER_REQS)
	$(PEER_PY) -m pip uninstall -y torchvision torchaudio
	$(PEER_PY) -c "from mostlyai.engine import TabularARGN"
	touch $(PEER_STAMP)

clean:
	rm -rf synthetic_datasets/metadata synthetic_datasets/patterns synthetic_datasets/models \
	  synthetic_datasets/visualizations synthetic_datasets/*.csv synthetic_datasets/*.json synthetic_datasets/*.html
