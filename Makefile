# The two commands of the README. Each one does its own set-up first.
.PHONY: demo test setup

demo: setup
	.venv/bin/evservice demo

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh
