# A thin front for meson.  `make` builds the release binaries in build/,
# `make check` builds the sanitizer build in build-asan/ and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
MESON ?= meson

.PHONY: all check unit install demo setup guest bench format format-check fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=release --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false --prefix=$(PREFIX)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The README's second command: everything, ending in "N passed, N failed".
check: all asan
	bash tests/run.sh

install: all
	meson install -C $(BUILD)

demo: all
	bash scripts/demo.sh

bench: all
	bash bench/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
