# The two commands a new user needs: `make train` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install train test corpora bench gradcheck reference clean

install: $(STAMP)

# Re-install when the project's metadata changes; editable, so code edits need no re-install.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,mpi]'
	touch $(STAMP)

corpora: corpora/shakespeare.txt corpora/tiny-shakespeare.txt

corpora/shakespeare.txt corpora/tiny-shakespeare.txt: corpora/build.py
	$(PYTHON) corpora/build.py

train: install corpora
	$(BIN)/rnnlm train configs/default.yaml --out runs/default --overwrite
	$(BIN)/rnnlm sample runs/default --length 600 --seed 1

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/rnnlm bench

gradcheck: install
	for c in rnn_tanh rnn_relu gru lstm; do $(BIN)/rnnlm gradcheck --set model.cell=$$c --set model.layers=2 || exit 1; done

# The README's config reference, regenerated from the schema and the registries.
reference: install
	$(BIN)/python -m rnnlm.config.reference --write

clean:
	rm -rf $(VENV) runs build *.egg-info
