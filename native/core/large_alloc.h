// An allocator for the network plan's large flat buffers (parameters,
// gradients, optimizer state, activations). On Linux, buffers of 4 MiB and
// more are aligned to 2 MiB and marked MADV_HUGEPAGE, so that transparent
// huge pages back them even where the system only grants them on request
// (/sys/kernel/mm/transparent_hugepage/enabled = madvise, the common
// default). gemm's packing walks the weights with a row stride of a whole
// layer width (a new 4 KiB page per row) and the optimizer streams tens of
// megabytes per step: with 4 KiB pages both miss the TLB constantly.
// Elsewhere, and for small buffers, it is plain operator new. Zero-filling
// is left to the vector (assign/resize), as with std::allocator.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fastmlp {

template <typename T>
struct LargeBufferAllocator {
  using value_type = T;

  LargeBufferAllocator() = default;
  template <typename U>
  LargeBufferAllocator(const LargeBufferAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
    const std::size_t bytes = n * sizeof(T);
#if defined(__linux__)
    if (bytes >= kThreshold) {
      const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      void* p = nullptr;
      if (posix_memalign(&p, kHugePage, rounded) != 0) throw std::bad_alloc();
      // Advice only: when huge pages are off, this fails and nothing changes.
      madvise(p, rounded, MADV_HUGEPAGE);
      return static_cast<T*>(p);
    }
#endif
    return static_cast<T*>(::operator new(bytes));
  }

  void deallocate(T* p, std::size_t n) noexcept {
#if defined(__linux__)
    if (n * sizeof(T) >= kThreshold) {
      std::free(p);
      return;
    }
#endif
    ::operator delete(p);
  }

  template <typename U>
  bool operator==(const LargeBufferAllocator<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const LargeBufferAllocator<U>&) const noexcept { return false; }

 private:
  static constexpr std::size_t kHugePage = std::size_t(2) << 20;
  static constexpr std::size_t kThreshold = std::size_t(4) << 20;
};

}  // namespace fastmlp
