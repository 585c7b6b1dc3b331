# The front door: `make serve` to browse the site, `make test` to run every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export NO_MKDOCS_2_WARNING := 1

.PHONY: help install serve site notebooks validate schema test lint format links clean

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

LIGHTHOUSE := .llm-path-cache/node/node_modules/.bin/lighthouse
MERMAID := .llm-path-cache/node/node_modules/mermaid/dist/mermaid.min.js

CHROMIUM := /usr/bin/chromium
# What a Debian machine lacks is installed when we are root (as in CI); anyone else is told, in one line, what to install.
define debian_package
	@command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2) >/dev/null; \
	  else \
	    echo "make: $(1) is missing ($(3) need it); install it with: sudo apt-get install $(2)" >&2; exit 1; \
	  fi; }
endef

.PHONY: npm chromium
npm:
	$(call debian_package,npm,nodejs npm,Mermaid diagrams and the Lighthouse tests)

chromium:
	$(call debian_package,$(CHROMIUM),chromium,the browser tests)

$(MERMAID): | npm  # diagrams render from this copy, served by the site itself (the theme would use a CDN)
	npm install --prefix .llm-path-cache/node --no-audit --no-fund --loglevel=error mermaid@11.17.2

$(LIGHTHOUSE): | npm  # the quality tests audit pages with Lighthouse (npm), run with Debian's Chromium
	npm install --prefix .llm-path-cache/node --no-audit --no-fund --loglevel=error lighthouse@13

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

ENGINE ?= mkdocs
SOURCE := .llm-path-cache/site-source

site: $(STAMP) $(MERMAID)  ## Build the site into site/, strictly: ENGINE=mkdocs (default), properdocs or zensical.
ifeq ($(ENGINE),mkdocs)
	$(BIN)/mkdocs build --strict --site-dir site
else ifeq ($(ENGINE),properdocs)
	$(BIN)/properdocs build --strict --config-file mkdocs.yml --site-dir site
else ifeq ($(ENGINE),zensical)
	$(BIN)/llm-path render $(SOURCE)
	cd $(SOURCE) && $(abspath $(BIN))/zensical build --strict --clean --config-file zensical.toml
	rm -rf site && cp -R $(SOURCE)/site site
else
	@echo "make site: unknown ENGINE '$(ENGINE)'; use mkdocs, properdocs or zensical" >&2; exit 2
endif

test: chromium $(STAMP) $(MERMAID) $(LIGHTHOUSE)  ## Run every test, installing what they need (Chromium included) first.
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

lint: $(STAMP)  ## ruff (lint and format check) and mypy.
	$(BIN)/ruff check src tests scripts benchmarks notebooks/pathgpt notebooks/exercises
	$(BIN)/ruff format --check src tests scripts benchmarks notebooks/pathgpt notebooks/exercises
	$(BIN)/mypy

format: $(STAMP)  ## Apply ruff's fixes and formatting.
	$(BIN)/ruff check --fix src tests scripts benchmarks notebooks/pathgpt notebooks/exercises
	$(BIN)/ruff format src tests scripts benchmarks notebooks/pathgpt notebooks/exercises

notebooks: $(STAMP)  ## Execute the notebooks that changed (the site build does this too).
	$(BIN)/llm-path notebooks

links: $(STAMP)  ## Check every resource link (needs the internet); the report feeds the site.
	$(BIN)/python scripts/check_links.py --json .llm-path-cache/links-report.json --markdown .llm-path-cache/links-report.md

clean:  ## Remove the built site and caches (keeps .venv).
	rm -rf site .llm-path-cache .pytest_cache .ruff_cache .mypy_cache
