# tagnn-tf: `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= runs/demo
DEMO_EXPORT ?= runs/demo_export

# Fast CPU set-up (see tagnn_tf/runtime.py): oneDNN on, glibc reuses freed
# memory and backs it with huge pages.
export TF_ENABLE_ONEDNN_OPTS ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736

.PHONY: demo test install clean

# The pinned dependencies, then this repository's `tagnn_tf` as an editable
# package (pyproject.toml), so `import tagnn_tf` works from any folder
# (PYTHONWARNINGS: setuptools warns about every editable install of a flat layout).
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Side environments, one per requirements-NAME.txt, in .venv-NAME:
# - beam: the Beam extra (trainers.preprocess_beam). Apache Beam pins protobuf and pyarrow below TensorFlow's
#   stack, so it does not share the main one.
# - spark: benchmark only, PySpark for the engine comparison in benchmarks/click_log_out_of_core.py
#   (--spark_up_to; needs Java 17 or newer).
BEAM_VENV := .venv-beam
SPARK_VENV := .venv-spark
.venv-%/.installed: requirements-%.txt
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade pip
	.venv-$*/bin/python -m pip install --quiet -r $<
	touch $@

demo: $(VENV)/.installed
	rm -rf $(DEMO_DIR)
	$(PY) -m trainers.train --dataset=synthetic --model_dir=$(DEMO_DIR) --epochs=3
	$(PY) -m trainers.evaluate --model_dir=$(DEMO_DIR)
	rm -rf $(DEMO_EXPORT)
	$(PY) -m export.export_savedmodel --model_dir=$(DEMO_DIR) --export_dir=$(DEMO_EXPORT)/tagnn
	$(PY) -m export.export_tflite --saved_model=$(DEMO_EXPORT)/tagnn/1 --output=$(DEMO_EXPORT)/tagnn.tflite
	$(PY) -m export.predict --saved_model=$(DEMO_EXPORT)/tagnn --session=3,17,3,42

test: $(VENV)/.installed $(BEAM_VENV)/.installed
	$(PY) -m pytest -q --durations=15 tests

clean:
	rm -rf $(VENV) $(BEAM_VENV) $(SPARK_VENV) runs .pytest_cache
