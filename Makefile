# Convenience wrapper around CMake for the README's quick start.
#   make run    install dependencies, build, train the default experiment
#   make test   install dependencies, build, run every test
BUILD ?= build
JOBS ?= 2
EXPERIMENT ?= experiments/wgan-gp-8gaussians.yaml

.PHONY: all deps build run test bench clean

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

clean:
	rm -rf $(BUILD)
