# The two commands of the README. Both bootstrap .venv idempotently first.
.PHONY: demo test bootstrap lint

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	.venv/bin/xfer campaign run examples/mini.toml

test: bootstrap
	.venv/bin/ruff check xfer tests benchmarks
	.venv/bin/python -m pytest -m "not slow or ci" -q

lint: bootstrap
	.venv/bin/ruff check xfer tests benchmarks
