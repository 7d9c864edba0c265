#ifndef SESSIONKIT_ALLOCATION_COUNTER_H
#define SESSIONKIT_ALLOCATION_COUNTER_H
#include <stdint.h>

/// The number of heap allocations (malloc, calloc, realloc, aligned allocations) the process
/// made so far, on every thread. Always 0 where counting is unsupported (not glibc).
uint64_t sessionkit_allocation_count(void);

/// Bytes of heap the allocator has handed out and not yet taken back, mmapped chunks included
/// (glibc's mallinfo2: uordblks + hblkhd).
uint64_t sessionkit_heap_bytes_in_use(void);

#endif
