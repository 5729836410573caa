/* fuzz.h — what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share. */
#ifndef CHUDA_FUZZ_H
#define CHUDA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input's bytes as a NUL-terminated string (malloc'd; NULL when out of memory). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text) {
        memcpy(text, data, size);
        text[size] = '\0';
    }
    return text;
}

#endif
