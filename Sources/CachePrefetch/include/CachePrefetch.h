#ifndef CACHE_PREFETCH_H
#define CACHE_PREFETCH_H

// A hint to bring the cache line holding `p` into every cache level ahead of its use. Swift has no
// prefetch of its own, and the x86 headers' `_mm_prefetch` is a macro it cannot import.
static inline __attribute__((always_inline)) void cache_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
