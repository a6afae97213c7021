# Two entry points: `make study` (install + default study) and `make test` (install + tests).
VENV ?= .venv
PY := $(VENV)/bin/python
CORES ?= 2
# The CPU build on these machines; on a GPU cluster use e.g. TORCH="torch==2.13.0 --index-url ...".
TORCH ?= torch==2.13.0
export OMP_WAIT_POLICY ?= PASSIVE
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install study tune rerun-check test test-fast lint clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# The study, timed: docs/results.md is written again with the wall time of the run.
study: install
	@start=$$(date +%s); $(VENV)/bin/snakemake --cores $(CORES) && \
	  echo $$(( $$(date +%s) - start )) > results/study_seconds.txt && \
	  $(PY) -m actunlearn.reporting.results_doc record docs/study_runs.csv results/study_seconds.txt $(CORES) && \
	  $(VENV)/bin/snakemake --cores $(CORES) docs/results.md --forcerun write_results && \
	  $(PY) -m actunlearn.reporting.results_doc README.md docs/results.md

# The tuning sweep, timed (docs/tune_runs.csv): writes config/tuned/{model}.yaml and its trials,
# which the study reads; commit them.
tune: install
	@start=$$(date +%s); $(VENV)/bin/snakemake --cores $(CORES) tune && \
	  echo $$(( $$(date +%s) - start )) > results/tune_seconds.txt && \
	  $(PY) -m actunlearn.reporting.results_doc record docs/tune_runs.csv results/tune_seconds.txt $(CORES) sweep

# After `make study`: time a metric-only change (evaluate.drift.rbo_p) and its revert, then
# write docs/results.md and the README block again with the measurement.
rerun-check: install
	$(PY) bench/metric_rerun.py --cores $(CORES) && \
	  $(VENV)/bin/snakemake --cores $(CORES) docs/results.md --forcerun write_results && \
	  $(PY) -m actunlearn.reporting.results_doc README.md docs/results.md

test: install
	$(VENV)/bin/pytest

test-fast: install
	$(VENV)/bin/pytest -m "not slow"

lint: install
	$(VENV)/bin/snakemake --lint

clean:
	rm -rf results logs benchmarks .snakemake
