# Convenience wrapper around CMake for the README's quick start.
#   make run    install dependencies, build, train the default experiment
#   make test   install dependencies, build, run every test
#   make test-asan  the unit and backend tiers in an AddressSanitizer + UBSan build
BUILD ?= build
ASAN_BUILD ?= $(BUILD)-asan
JOBS ?= 2
EXPERIMENT ?= experiments/wgan-gp-8gaussians.yaml

.PHONY: all deps build build-asan run test test-asan bench clean

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
