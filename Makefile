# Two commands for a fresh machine:
#   make demo   set up .venv and run the main job on the bundled samples (output in out/)
#   make test   set up .venv with the test tools and run lint + the whole test suite
# make bench runs the benchmarks (BENCH=--quick for a short run; out/bench.json has the numbers)
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
YEAR ?= 2025

.PHONY: demo test lint format bench samples clean

$(BIN)/wbtools: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	@# byte-compile the package: an editable install is not, and PYTHONDONTWRITEBYTECODE may be set
	$(BIN)/python -m compileall -q workbook_tools
	@touch $@

$(VENV)/.dev: $(BIN)/wbtools
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

demo: $(BIN)/wbtools
	$(BIN)/wbtools template --roster samples/roster.csv --year $(YEAR) -o out/templates/
	@# check exits 1 when it finds errors, which the samples have on purpose
	$(BIN)/wbtools check samples/returned/$(YEAR) --previous samples/returned/2024 \
		--annotate out/feedback/ || [ $$? -eq 1 ]
	@# merge exits 1 when some units need attention, which the samples show on purpose
	$(BIN)/wbtools merge samples/returned/$(YEAR) --roster samples/roster.csv --name 青禾县 \
		--previous samples/returned/2024 -o out/青禾县汇总.xlsx --long out/青禾县汇总_明细.csv || [ $$? -eq 1 ]
	@# the county report says whom it covers; some sample units are missing or failing on purpose
	$(BIN)/wbtools report out/青禾县汇总.xlsx --allow-partial -o out/reports/青禾县2025年政府信息公开工作年度报告.docx
	$(BIN)/wbtools report samples/returned/$(YEAR)/101_青禾县城关镇_$(YEAR).xlsx -o out/reports/城关镇.html

samples: $(BIN)/wbtools
	$(BIN)/python samples/build.py

test: $(VENV)/.dev lint
	$(BIN)/pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/wbtools
	$(BIN)/python benchmarks/run.py $(BENCH)

clean:
	rm -rf out .pytest_cache .ruff_cache
