// Counts heap allocations for the microbenchmarks by defining the allocator entry points in
// the benchmark executable, which the dynamic linker prefers over glibc's, and forwarding
// each call to glibc's own implementation (__libc_malloc and friends). Only the benchmark
// executable links this; no library of SessionKit does.
#include "AllocationCounter.h"
#include <stdatomic.h>
#include <stddef.h>

#if defined(__linux__) && defined(__GLIBC__)
#include <errno.h>
#include <malloc.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static _Atomic uint64_t allocations = 0;

static inline void count_one(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }

void *malloc(size_t size) { count_one(); return __libc_malloc(size); }
void *calloc(size_t count, size_t size) { count_one(); return __libc_calloc(count, size); }
void *realloc(void *pointer, size_t size) { count_one(); return __libc_realloc(pointer, size); }
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count_one(); return __libc_memalign(alignment, size); }
int posix_memalign(void **result, size_t alignment, size_t size) {
    count_one();
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}

uint64_t sessionkit_allocation_count(void) { return atomic_load_explicit(&allocations, memory_order_relaxed); }
uint64_t sessionkit_heap_bytes_in_use(void) {
    // Small chunks (uordblks) plus the large ones glibc serves with mmap (hblkhd): big hash
    // tables live in the second, and leaving them out would undercount a store by half.
    struct mallinfo2 info = mallinfo2();
    return (uint64_t)(info.uordblks + info.hblkhd);
}
#else
uint64_t sessionkit_allocation_count(void) { return 0; }
uint64_t sessionkit_heap_bytes_in_use(void) { return 0; }
#endif
