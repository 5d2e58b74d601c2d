# The two commands of the README. Each one does its own set-up first.
.PHONY: demo test setup screenshots serve

demo: setup
	.venv/bin/evservice demo

test:
	bash scripts/test.sh

setup:
	bash scripts/setup.sh

# The portal: serve it (127.0.0.1:8000, the demo's store and keys), or remake the README's screenshots.
serve: setup
	.venv/bin/evservice serve

screenshots: setup
	rm -rf docs/screenshots
	EVSERVICE_SCREENSHOTS=docs/screenshots .venv/bin/python -m pytest tests/web/test_browser.py -q -p no:cacheprovider
