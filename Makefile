# Two entry points (see README.md):
#   make lab    set up, generate the course data, open JupyterLab on the notebooks
#   make test   set up, run the whole test suite (unit tests, doctests, notebooks)
# Everything lives in a local virtual environment, .venv/.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A pinned torch first: on a machine without a GPU this keeps pip from pulling
# several GB of CUDA packages. Override, e.g. `make lab TORCH=torch==2.5.1`.
TORCH  ?= torch==2.13.0
# Laptops without an NVIDIA GPU: `make lab CPU=1` (or `make test CPU=1`) takes PyTorch's
# CPU-only build from PyTorch's own wheel index, about 190 MB to download instead of about
# 3 GB with the CUDA libraries (README: "PyTorch: CPU-only or CUDA"). Leave it unset where
# only the default package index is reachable (as in CI).
CPU    ?=
TORCH_INDEX := $(if $(CPU),--index-url https://download.pytorch.org/whl/cpu)
# `make test THREADS=1` runs the suite as another machine would: the solution notebooks
# train and predict with 1 torch thread ($MBL_SEG_THREADS), which sums floating-point
# numbers in another order, as another CPU does. Their checked outputs must not change.
THREADS ?=
THREADS_ENV := $(if $(THREADS),MBL_SEG_THREADS=$(THREADS))
# The suite runs on JOBS pytest workers (pytest-xdist; a notebook's cells stay together on
# one worker, in order). With more than one, each worker's torch and BLAS use 1 thread
# (1 per core on CI's 2 cores: two workers of 2 threads each would fight over the cores).
# `make test JOBS=1` runs it in one process, as before.
JOBS ?= 2
JOBS_FLAGS := $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadscope)
JOBS_ENV := $(if $(filter 1,$(JOBS)),,OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(if $(THREADS),,MBL_SEG_THREADS=1))

.PHONY: lab test setup data exercises bench clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install "$(TORCH)" $(TORCH_INDEX)
	$(BIN)/python -m pip install -e ".[lab,test]"
	touch $@

setup: $(VENV)/.installed

data: setup
	$(BIN)/mbl-seg data

# JupyterLab is rooted at the repository (so solutions/ is one click away) and opens
# on notebooks/. As root (Docker, cloud VMs) it needs --allow-root: say so, then go on.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: data
	$(BIN)/mbl-seg check
	@$(if $(ALLOW_ROOT),echo "note: running JupyterLab as root (--allow-root)",true)
	$(BIN)/jupyter lab --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks $(ALLOW_ROOT)

test: data
	$(BIN)/ruff check .
	$(JOBS_ENV) $(THREADS_ENV) $(BIN)/python -m pytest tests mbl_seg solutions --doctest-modules \
		--nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg \
		$(JOBS_FLAGS) --durations=15

exercises: setup
	$(BIN)/mbl-seg exercises

bench: setup
	$(BIN)/python bench/bench_synthetic.py
	$(BIN)/python bench/realism.py --ranges
	$(BIN)/python bench/bench_evaluate.py
	$(BIN)/python bench/bench_malis.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_pipeline.py
	$(BIN)/python bench/bench_predict.py
	$(BIN)/python bench/bench_lsds.py
	$(BIN)/python bench/bench_agglomerate.py
	$(BIN)/python bench/bench_blockwise.py
	$(BIN)/python bench/bench_notebooks.py

clean-venv:
	rm -rf $(VENV)
