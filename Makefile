# Two entry points: `make demo` and `make test`. Each sets up what it needs by itself.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
FASHION := /usr/share/datasets/fashion-mnist

.PHONY: demo test data browser lint clean

# torch's CUDA build makes the virtualenv about 6.5 GB: say so before pip runs out of disk.
$(STAMP): pyproject.toml
	@free=$$(df -Pk . | awk 'NR == 2 {print int($$4 / 1024)}'); if [ "$$free" -lt 7000 ]; then \
	  echo "note: $$free MB free here and the virtualenv needs about 6,500 MB (torch's CUDA build); free disk space if pip fails with 'No space left on device'"; fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Fashion-MNIST from Debian when missing and we are root; otherwise gankit explains
# (and the demo falls back to the bundled digits).
data:
	@if [ ! -d $(FASHION) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) \
	      || echo "note: could not install dataset-fashion-mnist"; \
	  else echo "note: $(FASHION) missing; as root: apt-get install dataset-fashion-mnist"; fi; \
	fi

# Chromium and its driver for the end-to-end test of `gankit serve` (skipped without them).
browser:
	@if ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "note: could not install chromium; the browser test will be skipped"; \
	  else echo "note: no chromedriver; as root: apt-get install chromium chromium-driver"; fi; \
	fi

demo: $(STAMP) data
	$(VENV)/bin/gankit demo

test: $(STAMP) data browser
	$(VENV)/bin/pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) runs .pytest_cache
