# fifo-gate: two commands on a fresh machine, `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: run test local local-aws clean package deploy infra chalice-deploy destroy check bench bench-quick soak

$(STAMP): requirements-dev.txt requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

## run: the local runtime (moto server, slow API stand-in, pollers, scaled clock)
run: $(STAMP)
	@$(BIN)/python -m localrun $(ARGS)

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

# ---- Deploy (needs AWS credentials; see README "Deploy") -------------------
STAGE ?= dev
BUILD := build/$(STAGE)

## package: chalice package for STAGE with the infra template merged in (build/STAGE/package)
package: $(STAMP)
	$(BIN)/python -m infra.check $(STAGE)
	$(BIN)/python -m infra.render $(STAGE) merge $(BUILD)/merge.json
	rm -rf $(BUILD)/package.new
	$(BIN)/chalice package --stage $(STAGE) --merge-template $(BUILD)/merge.json $(BUILD)/package.new
	$(BIN)/python -m infra.bytecode $(BUILD)/package.new
	rm -rf $(BUILD)/package && mv $(BUILD)/package.new $(BUILD)/package

## deploy: the whole app as one CloudFormation stack fifo-gate-STAGE (BUCKET, in the stack's region, receives the zip)
deploy:
	@test -n "$(BUCKET)" || { echo "usage: make deploy STAGE=dev BUCKET=<s3 bucket in the stack's region>"; exit 2; }
	$(MAKE) package STAGE=$(STAGE)
	$(BIN)/python -m infra.deploy package-deploy $(STAGE) $(BUCKET) $(BUILD)/package

## infra: queues + state machine alone (stack fifo-gate-STAGE-infra), for `chalice deploy`
infra: $(STAMP)
	$(BIN)/python -m infra.check $(STAGE)
	$(BIN)/python -m infra.render $(STAGE) standalone $(BUILD)/infra.json
	$(BIN)/python -m infra.deploy infra $(STAGE) $(BUILD)/infra.json

## chalice-deploy: `chalice deploy --stage STAGE`, its worker reading the stage's own queue
chalice-deploy: $(STAMP)
	$(BIN)/python -m infra.check $(STAGE)
	queue=$$($(BIN)/python -m infra.stage $(STAGE) queue-name) && \
	QUEUE_NAME=$$queue $(BIN)/chalice deploy --stage $(STAGE)

## destroy: delete the stage's stacks (and what `chalice deploy` made, if anything)
destroy: $(STAMP)
	-test ! -f .chalice/deployed/$(STAGE).json || $(BIN)/chalice delete --stage $(STAGE)
	$(BIN)/python -m infra.deploy destroy $(STAGE)

## check: fail on unsafe settings of a stage (STAGE=dev|stg|prod)
check: $(STAMP)
	$(BIN)/python -m infra.check $(STAGE)

## bench: the seed's producer pattern vs fifo-gate, side by side (about 15 min); writes bench/results.json
bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

## bench-quick: the same code on a small run (under a minute); writes build/bench-quick.json
bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(ARGS)


## soak: a simulated day per policy at 5 % failures, 5 pollers (about 8 real minutes each)
# 180x keeps the scaled visibility timeout at 2 real seconds (heartbeat 0.67 s): at 360x a
# 1 s visibility left the heartbeat too little slack against moto's growing backlog under
# buffer_all. The retry back-off is one visibility timeout (360 s) for whole-second timers.
soak: $(STAMP)
	@for policy in skip buffer_one buffer_all; do \
	  out=$$($(BIN)/python -m localrun --json --minutes 1440 --speed 180 --retry-backoff 360 \
	         --fail-rate 0.05 --pollers 5 --seed 7 --policy $$policy 2>/dev/null); rc=$$?; \
	  echo "$$out" | tail -n 1; test $$rc -eq 0 || exit $$rc; \
	done
