# The two commands a new user needs: `make train` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install extras train test corpora bench gradcheck reference clean

install: $(STAMP)

# Re-install when the project's metadata changes; editable, so code edits need no re-install.
# PYTHONWARNINGS hides setuptools' notes about editable installs (user warnings, not errors).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,mpi,mkl,fast]'
	touch $(STAMP)

# The optional extras: matplotlib (`rnnlm inspect --png`) and tensorboardX (train.tensorboard).
extras: install
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/python -m pip install -q --disable-pip-version-check -e '.[test,plot,tensorboard]'

CORPORA := corpora/shakespeare.txt corpora/tiny-shakespeare.txt \
           corpora/shakespeare-words/train.txt corpora/shakespeare-words/valid.txt \
           corpora/shakespeare-words/test.txt

corpora: $(CORPORA)

$(CORPORA): corpora/build.py
	$(PYTHON) corpora/build.py

# Trains, then prints one sample (train.sample_length characters) from the trained model.
train: install corpora
	$(BIN)/rnnlm train configs/default.yaml --out runs/default --overwrite

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/rnnlm bench

gradcheck: install
	for c in rnn_tanh rnn_relu gru lstm; do $(BIN)/rnnlm gradcheck --set model.cell=$$c --set model.layers=2 || exit 1; done

# The README's config reference, regenerated from the schema and the registries.
reference: install
	$(BIN)/python -m rnnlm.config.reference --write

# Build artefacts only: the runs you trained (runs/) and the corpora stay.
clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
	find rnnlm tests -name __pycache__ -type d -prune -exec rm -rf {} +
