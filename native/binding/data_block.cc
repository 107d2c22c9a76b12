#include "data_block.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

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

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
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

// Pieces of a parallel copy are at least this long: below it, waking the
// pool's threads costs more than the copy (a 4 MiB memcpy into mapped pages
// takes ~0.4 ms; into fresh ones ~2 ms).
constexpr std::size_t kCopyGrainBytes = std::size_t(4) << 20;

// copyData(target, source): target.set(source) for two Float32Arrays or two
// Float64Arrays of one length, split across the core's thread pool
// (threads.h parallel_for) while the calling thread takes its share and waits.
//
// Why: fit's private copy of x (lib/model-data.ts) runs on the main thread,
// and into fresh memory most of its time is page faults — the kernel zeroing
// each new 4 KiB page on first write — not the copy (188 MB: ~85 ms fresh
// against ~18 ms into mapped pages, one thread, measured on the project's
// 2-vCPU VM). Faults of one process on different pages proceed in parallel,
// so the pool's threads take their share of them (~47 ms on 2 threads).
// Safe without a copy of the arguments: this call is synchronous, so no
// JavaScript runs until it returns and neither buffer can be detached,
// transferred or collected meanwhile.
Napi::Value CopyData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FloatArg target = float_array(arg(info, 0), "target");
  const FloatArg source = float_array(arg(info, 1), "source", target.dtype, target.length);
  const std::size_t element = target.dtype == Dtype::Float32 ? sizeof(float) : sizeof(double);
  const std::size_t bytes = target.length * element;
  if (bytes == 0 || target.data == source.data) return env.Undefined();
  auto* to = static_cast<unsigned char*>(target.data);
  const auto* from = static_cast<const unsigned char*>(source.data);
  // Two views of one buffer may overlap: pieces copied in parallel would then
  // read bytes another piece already overwrote. memmove, serially, as set().
  if (from < to + bytes && to < from + bytes) {
    std::memmove(to, from, bytes);
    return env.Undefined();
  }
  guard(env, [&] {
    parallel_for(static_cast<index_t>(bytes), static_cast<index_t>(kCopyGrainBytes),
                 [&](index_t begin, index_t end) {
                   std::memcpy(to + begin, from + begin, static_cast<std::size_t>(end - begin));
                 });
  });
  return env.Undefined();
}

}  // namespace

void init_data_blocks(Napi::Env env, Napi::Object exports) {
  exports.Set("allocData", Napi::Function::New<AllocData>(env, "allocData"));
  exports.Set("copyData", Napi::Function::New<CopyData>(env, "copyData"));
}

std::shared_ptr<const void> find_data_block(const Napi::Value& typed_array, const void* data,
                                            std::size_t bytes) {
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

}  // namespace fastmlp::binding
