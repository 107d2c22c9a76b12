#include "data_block.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#include "../core/finite.h"
#include "../core/threads.h"
#include "args.h"
#include "errors.h"
#include "specs.h"

namespace fastmlp::binding {
namespace {

// Largest length allocData accepts: V8's limit for a typed array on 64-bit
// platforms (2^32 elements in Node 20); larger requests are a RangeError.
constexpr index_t kMaxDataLength = index_t(1) << 32;

class DataBlock;

// The registry: base address → block, for blocks that are alive. An address is
// unique while its block lives; the destructor removes the entry before the
// memory goes back to the allocator, so a reused address never finds a stale block.
// Both are never destroyed: a worker thread may free a block during static teardown at exit.
std::mutex& registry_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::unordered_map<const void*, std::weak_ptr<DataBlock>>& registry() {
  static auto* map = new std::unordered_map<const void*, std::weak_ptr<DataBlock>>();
  return *map;
}

class DataBlock {
 public:
  explicit DataBlock(std::size_t bytes) : bytes_(bytes) {
    // calloc: zero-filled like `new Float32Array(n)` (no stale heap bytes reach
    // JS), and for large sizes the kernel hands out zero pages lazily, so the
    // allocation itself costs next to nothing on the main thread.
    data_ = std::calloc(bytes == 0 ? 1 : bytes, 1);
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~DataBlock() {
    {
      std::lock_guard<std::mutex> lock(registry_mutex());
      registry().erase(data_);
    }
    std::free(data_);
  }
  DataBlock(const DataBlock&) = delete;
  DataBlock& operator=(const DataBlock&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }

  // How many bytes from the block's start are known to be mapped in: copyData
  // wrote them (it pre-faults only what lies beyond, see prefault_for_write).
  std::size_t written_prefix() const { return written_prefix_.load(std::memory_order_relaxed); }
  // A copy wrote [offset, offset + n): the prefix grows when that range starts inside it.
  void wrote(std::size_t offset, std::size_t n) {
    std::size_t prefix = written_prefix_.load(std::memory_order_relaxed);
    while (offset <= prefix && offset + n > prefix &&
           !written_prefix_.compare_exchange_weak(prefix, offset + n, std::memory_order_relaxed)) {
    }
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  std::atomic<std::size_t> written_prefix_{0};
};

// What the ArrayBuffer's finalizer receives: JS's share of the block.
struct JsShare {
  std::shared_ptr<DataBlock> block;
};

void finalize_share(napi_env env, void* /*data*/, void* hint) {
  auto* share = static_cast<JsShare*>(hint);
  const auto bytes = static_cast<std::int64_t>(share->block->bytes());
  delete share;  // frees the memory unless an epoch still holds it
  std::int64_t ignored = 0;
  if (env != nullptr) napi_adjust_external_memory(env, -bytes, &ignored);
}

// allocData(dtype, length) → a zero-filled Float32Array/Float64Array over addon-owned memory.
Napi::Value AllocData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Dtype dtype = parse_dtype(arg(info, 0), "dtype");
  const index_t length = integer(arg(info, 1), "length", 0, kMaxDataLength);
  const std::size_t element = dtype == Dtype::Float32 ? sizeof(float) : sizeof(double);
  const std::size_t bytes = std::size_t(length) * element;
  auto* share = guard(env, [&] {
    auto block = std::make_shared<DataBlock>(bytes);
    {
      std::lock_guard<std::mutex> lock(registry_mutex());
      registry()[block->data()] = block;
    }
    return new JsShare{std::move(block)};
  });
  napi_value raw = nullptr;
  const napi_status status =
      napi_create_external_arraybuffer(env, share->block->data(), bytes, finalize_share, share, &raw);
  Napi::ArrayBuffer buffer;
  if (status == napi_ok) {
    buffer = Napi::ArrayBuffer(env, raw);
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<std::int64_t>(bytes));
  } else {
    // A runtime without external buffers (napi_no_external_buffers_allowed,
    // e.g. Electron's V8 sandbox): the finalizer will never run, so drop the
    // block and return an ordinary ArrayBuffer; epochs then copy it as they
    // copy any caller's array. Correct, just not zero-copy.
    delete share;
    buffer = Napi::ArrayBuffer::New(env, bytes);
  }
  if (dtype == Dtype::Float32) return Napi::Float32Array::New(env, std::size_t(length), buffer, 0);
  return Napi::Float64Array::New(env, std::size_t(length), buffer, 0);
}

// The live block under a typed array's buffer, or null when the array is not
// allocData's (or its buffer was detached, or is a foreign buffer that starts
// at a block's address). The view's [data, data + bytes) must lie inside it.
std::shared_ptr<DataBlock> block_of(const Napi::Value& typed_array, const void* data, std::size_t bytes) {
  if (!typed_array.IsTypedArray()) return nullptr;
  Napi::ArrayBuffer buffer = typed_array.As<Napi::TypedArray>().ArrayBuffer();
  const void* base = buffer.Data();
  if (base == nullptr) return nullptr;  // detached
  std::shared_ptr<DataBlock> block;
  {
    std::lock_guard<std::mutex> lock(registry_mutex());
    const auto it = registry().find(base);
    if (it == registry().end()) return nullptr;
    block = it->second.lock();
  }
  // The JS buffer must still span the block (not a detached or foreign buffer
  // that happens to start at the same address), and the view must lie inside it.
  if (!block || buffer.ByteLength() != block->bytes()) return nullptr;
  const auto* begin = static_cast<const unsigned char*>(block->data());
  const auto* first = static_cast<const unsigned char*>(data);
  if (first < begin || bytes > block->bytes() || std::size_t(first - begin) > block->bytes() - bytes)
    return nullptr;
  return block;
}

// Pieces of a parallel copy are at least this long: below it, waking the
// pool's threads costs more than the copy (a 4 MiB memcpy into mapped pages
// takes ~0.4 ms; into fresh ones ~2 ms).
constexpr std::size_t kCopyGrainBytes = std::size_t(4) << 20;

// Maps in the whole pages of [p, p + n) for writing, zero-filled, before a
// copy writes them: one madvise(MADV_POPULATE_WRITE) call (Linux 5.14+)
// instead of a page fault per 4 KiB page taken inside memcpy. The kernel
// does the same work (allocate and zero each page) without a trap and its
// return per page: measured on the project's 2-vCPU VM, 188 MB on 2 threads,
// populate-then-memcpy 38 ms (median of 7; 37.6–44.5) against memcpy into
// fresh pages 46 ms (40–226), scratch C++ under `chrt -f 10`. Advice only:
// on an older kernel or any failure nothing happens and memcpy faults the
// pages in as before. Never on pages already mapped: populating those still
// walks them (~8 ms for 188 MB), so copyData skips the prefix of a block it
// wrote before (DataBlock::written_prefix: fit's reused memory).
void prefault_for_write(unsigned char* p, std::size_t n) {
#if defined(__linux__)
#ifndef MADV_POPULATE_WRITE
  constexpr int MADV_POPULATE_WRITE = 23;  // include/uapi/asm-generic/mman-common.h; older headers lack it
#endif
  static const std::uintptr_t page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const std::uintptr_t from = (reinterpret_cast<std::uintptr_t>(p) + page - 1) / page * page;
  const std::uintptr_t to = (reinterpret_cast<std::uintptr_t>(p) + n) / page * page;
  if (to > from) (void)madvise(reinterpret_cast<void*>(from), to - from, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)n;
#endif
}

// Fresh pages are mapped in this many bytes ahead of the copy: interleaved
// with it rather than the whole piece first, the zeroed lines are still in
// cache when memcpy writes them. Scratch C++ on the project's VM, 188 MB,
// 2 threads, medians of 9: 36.5–38.8 ms against 40.5–42.6 ms for the whole
// piece first (steps of 256 KiB and 1 MiB fell between).
constexpr std::size_t kPrefaultAheadBytes = std::size_t(4) << 20;

// Within a piece, the copy runs in steps of this many bytes, each followed by
// the finiteness test of the step's source while it is still in cache (L2):
// one read of the data from memory for both jobs.
constexpr std::size_t kCheckStepBytes = std::size_t(256) << 10;

// True when any of the n values at p is NaN or ±Infinity (core/finite.h).
bool any_nonfinite_bytes(Dtype dtype, const unsigned char* p, std::size_t bytes) {
  if (dtype == Dtype::Float32)
    return any_nonfinite(reinterpret_cast<const float*>(p), static_cast<index_t>(bytes / sizeof(float)));
  return any_nonfinite(reinterpret_cast<const double*>(p), static_cast<index_t>(bytes / sizeof(double)));
}

// copyData(target, source): target.set(source) for two Float32Arrays or two
// Float64Arrays of one length, split across the core's thread pool
// (threads.h parallel_for) while the calling thread takes its share and
// waits. Returns true when source held a NaN or ±Infinity, false otherwise
// (Engine.copyData: fit then skips its own pass over the copy, lib/fit-memory.ts).
//
// Why: fit's private copy of x (lib/fit-memory.ts) runs on the main thread,
// and into fresh memory most of its time is page faults — the kernel zeroing
// each new 4 KiB page on first write — not the copy (188 MB: ~85 ms fresh
// against ~18 ms into mapped pages, one thread, measured on the project's
// 2-vCPU VM). Faults of one process on different pages proceed in parallel,
// so the pool's threads take their share of them (~47 ms on 2 threads), and
// into an allocData block not written before each thread maps its piece's
// pages in a few MiB ahead of its copy (prefault_for_write; ~37 ms).
// The finiteness test rides along: fit used to check its copy afterwards in
// chunks on the main thread (lib/fit-input.ts; 21–25 ms for those rows, a
// second read of 188 MB); here it reads each step's source from cache just
// after memcpy read it from memory. Scratch C++ on the same VM, 2 threads:
// into mapped pages 18.1 ms plain against 16.9 ms with the test (steps of
// 256 KiB; medians of 9, noise larger than the difference), into fresh
// pages no difference within the noise (min 43.1 against 42.1 ms).
// Safe without a copy of the arguments: this call is synchronous, so no
// JavaScript runs until it returns and neither buffer can be detached,
// transferred or collected meanwhile.
Napi::Value CopyData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FloatArg target = float_array(arg(info, 0), "target");
  const FloatArg source = float_array(arg(info, 1), "source", target.dtype, target.length);
  const std::size_t element = target.dtype == Dtype::Float32 ? sizeof(float) : sizeof(double);
  const std::size_t bytes = target.length * element;
  if (bytes == 0) return Napi::Boolean::New(env, false);
  auto* to = static_cast<unsigned char*>(target.data);
  const auto* from = static_cast<const unsigned char*>(source.data);
  // One array: nothing to copy, the answer all the same.
  if (to == from) return Napi::Boolean::New(env, any_nonfinite_bytes(target.dtype, from, bytes));
  // Two views of one buffer may overlap: pieces copied in parallel would then
  // read bytes another piece already overwrote. memmove, serially, as set().
  if (from < to + bytes && to < from + bytes) {
    std::memmove(to, from, bytes);
    return Napi::Boolean::New(env, any_nonfinite_bytes(target.dtype, to, bytes));
  }
  // Only an allocData block is known fresh beyond the prefix copyData wrote;
  // another target (a caller's array) is written as it is.
  const std::shared_ptr<DataBlock> block = block_of(arg(info, 0), to, bytes);
  const std::size_t offset = block ? std::size_t(to - static_cast<unsigned char*>(block->data())) : 0;
  const std::size_t mapped = block ? block->written_prefix() : 0;
  std::atomic<bool> nonfinite{false};
  guard(env, [&] {
    // Over elements, not bytes: each piece then starts and ends on a whole
    // value, as the finiteness test reads them.
    parallel_for(static_cast<index_t>(target.length), static_cast<index_t>(kCopyGrainBytes / element),
                 [&](index_t first, index_t last) {
                   const std::size_t b = static_cast<std::size_t>(first) * element;
                   const std::size_t e = static_cast<std::size_t>(last) * element;
                   // Where this piece's fresh pages begin (past the block's written
                   // prefix, in target bytes); mapped in ahead of the copy, a few MiB
                   // at a time, so the copy finds the zeroed lines still in cache.
                   std::size_t populated = block ? std::max(b, mapped > offset ? mapped - offset : 0) : e;
                   bool found = false;
                   for (std::size_t at = b; at < e; at += kCheckStepBytes) {  // kCheckStepBytes: whole values
                     const std::size_t n = std::min(kCheckStepBytes, e - at);
                     if (populated < e && populated < at + n) {
                       const std::size_t upto = std::min(e, std::max(populated, at) + kPrefaultAheadBytes);
                       prefault_for_write(to + populated, upto - populated);
                       populated = upto;
                     }
                     std::memcpy(to + at, from + at, n);
                     if (!found) found = any_nonfinite_bytes(target.dtype, from + at, n);
                   }
                   if (found) nonfinite.store(true, std::memory_order_relaxed);
                 });
  });
  if (block) block->wrote(offset, bytes);
  return Napi::Boolean::New(env, nonfinite.load(std::memory_order_relaxed));
}

}  // namespace

void init_data_blocks(Napi::Env env, Napi::Object exports) {
  exports.Set("allocData", Napi::Function::New<AllocData>(env, "allocData"));
  exports.Set("copyData", Napi::Function::New<CopyData>(env, "copyData"));
}

std::shared_ptr<const void> find_data_block(const Napi::Value& typed_array, const void* data,
                                            std::size_t bytes) {
  return block_of(typed_array, data, bytes);
}

}  // namespace fastmlp::binding
