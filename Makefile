# A thin front for meson.  `make` builds the release binaries in build/,
# `make check` builds the sanitizer build in build-asan/ and runs every test.
BUILD ?= build
ASAN_BUILD ?= build-asan
PREFIX ?= /usr/local
MESON ?= meson

.PHONY: all asan check guest install images demo bench format format-check fuzz clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=release --prefix=$(PREFIX)

$(ASAN_BUILD)/build.ninja:
	$(MESON) setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false --prefix=$(PREFIX)

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The README's second command: everything, ending in "N passed, N failed".
check: all asan guest
	bash tests/run.sh

# The guest kernels and their initramfs with runhv-agent, in build/guest:
# the lean one built from linux-source-6.1 and guest/kernel.config (cached),
# and Debian's generic one in build/guest/generic (the fallback).
guest: all
	bash scripts/provision-guest.sh

GUEST_FILES = vmlinux kernel-release .provisioned initramfs.cpio initramfs.cpio.kernel-release
install: all
	meson install -C $(BUILD)
	for d in . generic; do \
	  if [ -f $(BUILD)/guest/$$d/initramfs.cpio ]; then \
	    install -d $(DESTDIR)$(PREFIX)/share/runhv/$$d; \
	    for f in $(GUEST_FILES); do \
	      install -m 644 $(BUILD)/guest/$$d/$$f $(DESTDIR)$(PREFIX)/share/runhv/$$d/$$f || exit 1; \
	    done; \
	  fi; \
	done

# The container images the manifests name, as OCI archives in build/images
# (offline, reproducible: scripts/make-images.sh).
images: all
	bash scripts/make-images.sh $(BUILD) $(BUILD)/images

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

# Coverage-guided fuzzing with libFuzzer (clang).  FUZZ_TIME seconds each;
# new inputs go to build-fuzz/corpus-*, never into the repository.
FUZZ_TIME ?= 60
FUZZ_SRC = src/lib/core/error.c src/lib/core/util.c src/lib/core/json.c src/lib/core/toml.c src/lib/core/stats.c \
  src/lib/oci/spec.c src/lib/oci/state.c src/lib/proto/agent-proto.c src/lib/k8s/admission.c src/lib/uvm/vmm-maps.c
# the ttrpc target also needs the protocol messages protoc-c generated in $(BUILD)
FUZZ_TTRPC = src/lib/proto/ttrpc.c src/lib/core/log.c $(BUILD)/proto/*.pb-c.c $(BUILD)/proto/google/protobuf/*.pb-c.c -I$(BUILD)/proto \
  $$(pkg-config --cflags --libs libprotobuf-c)
fuzz: all
	mkdir -p build-fuzz
	for t in $$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c||'); do \
	  clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    -Isrc/lib -Ibuild tests/fuzz/fuzz_$$t.c $(FUZZ_SRC) $$([ $$t = ttrpc ] && echo "$(FUZZ_TTRPC)") \
	    $$(pkg-config --cflags --libs jansson libseccomp libcap) -lm \
	    -o build-fuzz/fuzz_$$t || exit 1; \
	  mkdir -p build-fuzz/corpus-$$t; \
	  seeds=tests/fuzz/corpus/$$t; [ $$t = admission ] && seeds=tests/webhook/fixtures; \
	  build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -max_len=65536 build-fuzz/corpus-$$t $$seeds || exit 1; \
	done
