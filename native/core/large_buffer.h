// A fixed-size array of zeros for the network plan's large flat buffers
// (parameters, gradients, optimizer state, activations).
//
// Why not std::vector: a vector value-initialises what it allocates, one pass
// writing every byte. For a 784-2048-2048-10 plan with Adam that is ~90 MB of
// zeros written on the caller's thread — in Node, the main thread — when the
// plan is built or compiled (40–75 ms in one turn of the event loop). Here,
// on Linux, buffers of 4 MiB and more are anonymous private mappings: the
// kernel hands them out zeroed, a page at a time, when first touched
// (mmap(2): "the mapping is not backed by any file; its contents are
// initialized to zero"). So making one costs a system call, and the zeroing
// happens page by page in whichever thread first writes there — for the
// gradients, the optimizer state and the activations, the training worker.
//
// The invariant that replaces the vector's fill: every element of a
// LargeBuffer is zero when it is made, and a LargeBuffer never grows or
// shrinks, so no element is ever handed out over memory that held other
// data. Buffers are replaced (a fresh LargeBuffer, moved in), never resized;
// the old memory goes back to the system with it. Small buffers, and
// systems without the mapping path, use value-initialised operator new
// memory (zero by a fill: small, or not Linux).
//
// Large mappings are aligned to 2 MiB and marked MADV_HUGEPAGE, so that
// transparent huge pages back them even where the system grants them only on
// request (/sys/kernel/mm/transparent_hugepage/enabled = madvise, the common
// default). gemm's packing walks the weights with a row stride of a whole
// layer width (a new 4 KiB page per row) and the optimizer streams tens of
// megabytes per step: with 4 KiB pages both miss the TLB constantly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#if defined(__linux__)
#include <sys/mman.h>
#endif

// AddressSanitizer does not watch mapped memory: poison the rounding slack
// past the last element, so that an overrun into it is still reported.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FASTMLP_LARGE_BUFFER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FASTMLP_LARGE_BUFFER_ASAN)
#define FASTMLP_LARGE_BUFFER_ASAN 1
#endif
#if defined(FASTMLP_LARGE_BUFFER_ASAN)
#include <sanitizer/asan_interface.h>
#endif

namespace fastmlp {

template <typename T>
class LargeBuffer {
  // Zero bytes must be the value T() for the mapping's zeros to stand for it.
  static_assert(std::is_arithmetic<T>::value, "LargeBuffer holds numbers");

 public:
  // Sizes from this on are mapped (Linux); smaller ones come from operator new.
  static constexpr std::size_t kMapThreshold = std::size_t(4) << 20;
  static constexpr std::size_t kHugePage = std::size_t(2) << 20;

  LargeBuffer() = default;
  // n zeros. Throws std::bad_alloc when the memory cannot be had.
  explicit LargeBuffer(std::size_t n) : size_(n) {
    if (n == 0) return;
    if (n > (static_cast<std::size_t>(-1) - 2 * kHugePage) / sizeof(T)) throw std::bad_alloc();
    data_ = allocate_zeroed(n * sizeof(T), mapped_bytes_);
  }
  ~LargeBuffer() { release(); }

  LargeBuffer(const LargeBuffer&) = delete;
  LargeBuffer& operator=(const LargeBuffer&) = delete;
  LargeBuffer(LargeBuffer&& other) noexcept { swap(other); }
  LargeBuffer& operator=(LargeBuffer&& other) noexcept {
    LargeBuffer(std::move(other)).swap(*this);  // this buffer's old memory is freed here
    return *this;
  }
  void swap(LargeBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(mapped_bytes_, other.mapped_bytes_);
  }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  // Whether the memory is an anonymous mapping (tests; 0 bytes otherwise).
  bool mapped() const noexcept { return mapped_bytes_ != 0; }

 private:
  // `bytes` zero bytes; mapped_bytes gets the mapping's length, or 0 when the
  // memory came from operator new.
  static T* allocate_zeroed(std::size_t bytes, std::size_t& mapped_bytes) {
    mapped_bytes = 0;
#if defined(__linux__)
    if (bytes >= kMapThreshold) {
      const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      // Map one huge page more and trim: mmap only promises page alignment.
      const std::size_t span = rounded + kHugePage;
      void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (raw == MAP_FAILED) throw std::bad_alloc();
      const auto start = reinterpret_cast<std::uintptr_t>(raw);
      const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
      const std::size_t head = aligned - start, tail = span - head - rounded;
      if (head > 0) munmap(raw, head);
      if (tail > 0) munmap(reinterpret_cast<void*>(aligned + rounded), tail);
      // Advice only: when huge pages are off, this fails and nothing changes.
      madvise(reinterpret_cast<void*>(aligned), rounded, MADV_HUGEPAGE);
#if defined(FASTMLP_LARGE_BUFFER_ASAN)
      if (rounded > bytes) ASAN_POISON_MEMORY_REGION(reinterpret_cast<void*>(aligned + bytes), rounded - bytes);
#endif
      mapped_bytes = rounded;
      return reinterpret_cast<T*>(aligned);
    }
#endif
    return new T[bytes / sizeof(T)]();  // value-initialised: zeros
  }

  void release() noexcept {
    if (data_ == nullptr) return;
#if defined(__linux__)
    if (mapped_bytes_ != 0) {
#if defined(FASTMLP_LARGE_BUFFER_ASAN)
      ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<char*>(data_), mapped_bytes_);
#endif
      munmap(data_, mapped_bytes_);
      data_ = nullptr;
      return;
    }
#endif
    delete[] data_;
    data_ = nullptr;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t mapped_bytes_ = 0;
};

}  // namespace fastmlp
