# mdlsafe: the two commands of the README, plus the pieces they are made of.
#   make demo   install, build, start a throwaway server, replay seed 004, show `mdlsafe locks`
#   make test   install, build (also with ASan/UBSan), run every test against a sandbox server
#   make bench  benchmarks against the tools people use today (bench/README.md)

MAKEFLAGS  += --no-print-directory
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build build-asan test unit demo bench clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMDLSAFE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Unit tests only: no server needed.
unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure

test: build build-asan
	@bash scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
