# The front door: `make serve` to browse the site, `make test` to run every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export NO_MKDOCS_2_WARNING := 1

.PHONY: help install serve site notebooks validate schema test lint format links clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

LIGHTHOUSE := .cache/node/node_modules/.bin/lighthouse
MERMAID := .cache/node/node_modules/mermaid/dist/mermaid.min.js

$(MERMAID):  # diagrams render from this copy, served by the site itself (the theme would use a CDN)
	npm install --prefix .cache/node --no-audit --no-fund --loglevel=error mermaid@11.17.2

$(LIGHTHOUSE):  # the quality tests audit pages with Lighthouse (npm), run with Debian's Chromium
	npm install --prefix .cache/node --no-audit --no-fund --loglevel=error lighthouse@13

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[notebooks,test]'
	@touch $(STAMP)

install: $(STAMP) $(MERMAID)  ## Create .venv and install the project with everything it needs.

validate: $(STAMP)  ## Check the curriculum YAML and that its JSON Schema is up to date.
	$(BIN)/llm-path validate curriculum
	$(BIN)/llm-path schema --check

schema: $(STAMP)  ## Regenerate curriculum/schema/ from the models.
	$(BIN)/llm-path schema

serve: $(STAMP) $(MERMAID)  ## Build and serve the site at http://127.0.0.1:8000 with live reload.
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000 --livereload

site: $(STAMP) $(MERMAID)  ## Build the site into site/ with mkdocs build --strict.
	$(BIN)/mkdocs build --strict --site-dir site

test: $(STAMP) $(MERMAID) $(LIGHTHOUSE)  ## Run every test (pytest's "no tests collected" counts as a failure).
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: $(STAMP)  ## ruff (lint and format check) and mypy.
	$(BIN)/ruff check src tests scripts benchmarks notebooks/pathgpt
	$(BIN)/ruff format --check src tests scripts benchmarks notebooks/pathgpt
	$(BIN)/mypy

format: $(STAMP)  ## Apply ruff's fixes and formatting.
	$(BIN)/ruff check --fix src tests scripts benchmarks notebooks/pathgpt
	$(BIN)/ruff format src tests scripts benchmarks notebooks/pathgpt

notebooks: $(STAMP)  ## Execute the notebooks that changed (the site build does this too).
	$(BIN)/llm-path notebooks

links: $(STAMP)  ## Check every resource link (needs the internet); the report feeds the site.
	$(BIN)/python scripts/check_links.py --json .cache/links-report.json --markdown .cache/links-report.md

clean:  ## Remove the built site and caches (keeps .venv).
	rm -rf site .cache .pytest_cache .ruff_cache .mypy_cache
