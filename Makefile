# Convenience wrapper around CMake for the README's quick start.
#   make run    install dependencies, build, train the default experiment
#   make test   install dependencies, build, run every test
#   make test-asan  the unit and backend tiers in an AddressSanitizer + UBSan build
#   make fuzz   build the libFuzzer targets with clang (in $(FUZZ_BUILD)) and run each for
#               FUZZ_SECONDS (FUZZ_TARGETS: which ones; FUZZ_ARGS: more libFuzzer options)
BUILD ?= build
ASAN_BUILD ?= $(BUILD)-asan
JOBS ?= 2
EXPERIMENT ?= experiments/wgan-gp-8gaussians.yaml

FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(filter-out %/fuzz_support.c %/fuzz_data.c,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_ARGS ?=

.PHONY: all deps build build-asan run test test-asan bench clean fuzz

all: build

deps:
	@tools/install-deps

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/wgan run $(EXPERIMENT)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Shares the plain build's compiled OpenCL programs, so PoCL does not compile the
# kernels again under the sanitizers.
build-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWGAN_SANITIZE=ON \
	  -DWGAN_TEST_PROGRAM_CACHE=$(abspath $(BUILD))/program-cache >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS) -L '^(unit|backend)$$'

# New inputs go to $(FUZZ_BUILD)/corpus/<target> (the checked-in seeds are only read),
# findings to $(FUZZ_BUILD)/findings/<target>/: add each as a reproducer to
# tests/fuzz/corpus/<target>/ once fixed.
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWGAN_FUZZ=ON \
	    -DWGAN_OPENCL=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/findings/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=25 -rss_limit_mb=4096 \
	        -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/findings/$$t/ $(FUZZ_ARGS) \
	        $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
