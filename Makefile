# mdlsafe: the two commands of the README, plus the pieces they are made of.
#   make demo   install, build, start a throwaway server, replay seed 004, show `mdlsafe locks`
#   make test   install, build (also with ASan/UBSan), run every test against a sandbox server
#   make bench  benchmarks against the tools people use today (bench/README.md)
#   make install [PREFIX=/usr/local] [DESTDIR=]   a Release build, installed with
#               its man pages, bash completion and the guard's systemd unit
#   make uninstall [DESTDIR=]   removes what the last `make install` put there
#   make package  a Debian package (build-release/mdlsafe_VERSION_ARCH.deb)

MAKEFLAGS  += --no-print-directory
BUILD      ?= build
ASAN_BUILD ?= build-asan
RELEASE_BUILD ?= build-release
PREFIX     ?= /usr/local
# The man pages carry the date of the last commit, not of the build.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build build-asan release install uninstall package test unit demo bench clean format format-check

all: build

deps:
	@bash scripts/install-deps.sh

# The builds the code is developed and tested with: warnings are errors.
build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMDLSAFE_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMDLSAFE_SANITIZE=ON -DMDLSAFE_WERROR=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# What is installed and packaged: optimised, no tests, warnings reported only.
release:
	@bash scripts/install-deps.sh --build
	@cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DMDLSAFE_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE_BUILD) -j $(JOBS)

install: release
	@DESTDIR="$(DESTDIR)" cmake --install $(RELEASE_BUILD) --prefix "$(PREFIX)" --strip

uninstall:
	@DESTDIR="$(DESTDIR)" cmake -DMANIFEST=$(RELEASE_BUILD)/install_manifest.txt -P dist/uninstall.cmake

package: release
	@cd $(RELEASE_BUILD) && cpack -G DEB

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

# clang-format (.clang-format) on the lines of C files changed since this
# branch left FORMAT_BASE (default main), committed or not, so untouched code
# keeps its layout; FORMAT_BASE= formats every file whole. format-check shows
# what format would change, and fails if anything.
FORMAT_BASE ?= main

format:
	@if [ -n "$(FORMAT_BASE)" ]; then \
	  git clang-format --style=file --extensions c,h -q $$(git merge-base $(FORMAT_BASE) HEAD) || true; \
	else clang-format -i --style=file $$(git ls-files '*.c' '*.h'); fi

format-check:
	@out=$$(git clang-format --style=file --extensions c,h --diff $$(git merge-base $(FORMAT_BASE) HEAD)); \
	case "$$out" in ""|"no modified files to format"|"clang-format did not modify any files") ;; \
	  *) echo "$$out"; exit 1;; esac

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(RELEASE_BUILD)
