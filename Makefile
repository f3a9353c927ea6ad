# fifo-gate: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test local local-aws clean

$(STAMP): requirements-dev.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## run: the local runtime (moto server, slow API stand-in, pollers, scaled clock)
run: $(STAMP)
	$(BIN)/python -m localrun $(ARGS)

## test: the whole offline test suite
test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

## local-aws: moto on 127.0.0.1:5000 with the `local` stage's queues, for `make local`
local-aws: $(STAMP)
	$(BIN)/python -m localrun.aws $(ARGS)

## local: chalice local (port 8000) against the moto server `make local-aws` started
local: $(STAMP)
	AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_DEFAULT_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
	$(BIN)/chalice local --stage local --port 8000
