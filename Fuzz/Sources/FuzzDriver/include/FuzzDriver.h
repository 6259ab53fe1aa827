#ifndef WICK_FUZZ_DRIVER_H
#define WICK_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in the runtime `-sanitize=fuzzer` links): runs `callback` on inputs as the
/// command line says. SwiftPM gives each executable a main of its own, so the targets call this
/// from theirs instead of using libFuzzer's main.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
