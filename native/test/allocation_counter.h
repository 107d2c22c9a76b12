// Counts every operator new of a test binary, so that a kernel call or a
// training step can be shown to allocate nothing once warmed up. It replaces
// the global operator new and delete: include it in exactly one file of a
// test binary (its other files declare allocations_so_far() to read it).
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

std::atomic<long> g_allocations{0};

long allocations_so_far() { return g_allocations.load(); }

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
