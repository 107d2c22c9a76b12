// Persistent thread pool behind parallel_for (threads.h).
//
// Design notes (why it looks like this):
//  - Workers are std::threads started lazily, the first time a loop actually
//    needs them, so a process that only predicts tiny batches never spawns any.
//  - One loop runs at a time. A second caller (another model training on
//    another libuv thread, or a nested parallel_for from inside a body) finds
//    the pool busy and runs its loop serially in its own thread: no waiting,
//    no deadlock, same result.
//  - The caller takes chunks too, from the same atomic counter as the workers.
//    A loop therefore always completes even if no worker ever wakes up (for
//    instance while the pool is shutting down at process exit).
//  - Waits spin briefly before they sleep (a worker for the next loop, the
//    caller for the workers to finish). A training step posts a loop every
//    few hundred microseconds (each gemm, each optimizer pass), and waking a
//    thread from a futex costs tens of microseconds on a VM; at 256³ that was
//    a third of the product's time on two threads. The spin is bounded
//    (kSpin), so an idle pool still sleeps and costs nothing.
//  - The Pool object is allocated once and never freed; a static Shutdown
//    object joins the workers at static-destruction time. A loop that starts
//    after that (a libuv thread still running while the process exits) sees
//    `stopping` and runs serially instead of touching destroyed state.
#include "threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define FASTMLP_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define FASTMLP_CPU_RELAX() __asm__ __volatile__("yield")
#else
#define FASTMLP_CPU_RELAX() ((void)0)
#endif

namespace fastmlp {
namespace {

// How long a waiting thread spins before it sleeps.
constexpr std::chrono::microseconds kSpin{100};

// Spins until done() is true or kSpin has passed; returns done().
template <typename Done>
bool spin_until(const Done& done) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (done()) return true;
      FASTMLP_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= until) return done();
  }
}

int default_threads() {
  unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 1024u));
}

class Pool {
 public:
  std::atomic<int> threads{default_threads()};

  // Runs `nchunks` chunks of [0, n) on the caller plus up to nchunks-1
  // workers. Returns false (and does nothing) when the pool is busy or
  // stopping; the caller then runs the loop itself.
  bool try_run(index_t n, index_t nchunks,
               const std::function<void(index_t, index_t)>& body) {
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true,
                                       std::memory_order_acquire))
      return false;
    struct Release {
      std::atomic<bool>& b;
      ~Release() { b.store(false, std::memory_order_release); }
    } release{busy_};

    {
      std::unique_lock<std::mutex> lock(m_);
      if (stopping_) return false;
      // Grow lazily; extra workers beyond the current thread count just find
      // no chunk left and go back to sleep.
      // A new worker starts from the current generation, so it joins the
      // loop posted just below.
      const std::size_t want = static_cast<std::size_t>(nchunks - 1);
      while (workers_.size() < want) {
        try {
          const std::uint64_t g = generation_;
          workers_.emplace_back([this, g] { worker_loop(g); });
        } catch (...) {
          break;  // could not start a thread: run with what we have
        }
      }
      body_ = &body;
      n_ = n;
      nchunks_ = nchunks;
      next_.store(0, std::memory_order_relaxed);
      done_ = 0;
      in_flight_ = 0;
      failed_.store(false, std::memory_order_relaxed);
      error_ = nullptr;
      active_ = true;
      ++generation_;
    }
    work_cv_.notify_all();

    index_t mine = run_chunks();

    std::exception_ptr err;
    {
      std::unique_lock<std::mutex> lock(m_);
      done_ += mine;
    }
    // Wait for every chunk and for every worker that joined this loop to
    // leave it: a late worker must never see the next loop's counter with
    // this loop's body pointer.
    const auto finished = [&] {
      return done_.load(std::memory_order_acquire) == nchunks_ &&
             in_flight_.load(std::memory_order_acquire) == 0;
    };
    spin_until(finished);
    {
      std::unique_lock<std::mutex> lock(m_);
      done_cv_.wait(lock, finished);
      active_ = false;
      body_ = nullptr;
      err = error_;
      error_ = nullptr;
    }
    if (err) std::rethrow_exception(err);
    return true;
  }

  void shutdown() {
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(m_);
      stopping_ = true;
      workers.swap(workers_);
    }
    work_cv_.notify_all();
    for (auto& t : workers) {
#ifdef _WIN32
      // Joining from a DLL's static destructors can deadlock on the loader
      // lock; the OS reclaims the (idle) threads at exit.
      t.detach();
#else
      if (t.joinable()) t.join();
#endif
    }
  }

 private:
  // Takes chunks until none are left; returns how many it completed
  // (skipped ones after a failure count as completed).
  index_t run_chunks() {
    index_t count = 0;
    for (;;) {
      index_t c = next_.fetch_add(1, std::memory_order_relaxed);
      if (c >= nchunks_) break;
      if (!failed_.load(std::memory_order_relaxed)) {
        // Balanced contiguous split: chunk c covers [c*n/k, (c+1)*n/k).
        index_t b = c * n_ / nchunks_;
        index_t e = (c + 1) * n_ / nchunks_;
        try {
          (*body_)(b, e);
        } catch (...) {
          std::lock_guard<std::mutex> lock(m_);
          if (!error_) error_ = std::current_exception();
          failed_.store(true, std::memory_order_relaxed);
        }
      }
      ++count;
    }
    return count;
  }

  void worker_loop(std::uint64_t seen) {
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      if (!stopping_ && generation_.load(std::memory_order_relaxed) == seen) {
        lock.unlock();
        spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
        lock.lock();
      }
      work_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (!active_) continue;  // woke after that loop already finished
      ++in_flight_;
      lock.unlock();
      index_t mine = run_chunks();
      lock.lock();
      done_ += mine;
      --in_flight_;
      if (done_ == nchunks_ && in_flight_ == 0) done_cv_.notify_all();
    }
  }

  std::atomic<bool> busy_{false};
  std::mutex m_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  bool active_ = false;
  // Written under m_; atomic so that spinning threads may read them unlocked.
  std::atomic<std::uint64_t> generation_{0};
  const std::function<void(index_t, index_t)>* body_ = nullptr;
  index_t n_ = 0, nchunks_ = 0;
  std::atomic<index_t> done_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<index_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

// Never freed: see the file comment.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

struct Shutdown {
  ~Shutdown() { pool().shutdown(); }
};
// Static initialisation order does not matter: pool() is a leaked heap
// object, so joining its workers at any point of static destruction is safe,
// and later callers simply run serially.
Shutdown shutdown_at_exit;

}  // namespace

int num_threads() { return pool().threads.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  require(n >= 1, "set_num_threads: expected n >= 1 but received " +
                      std::to_string(n));
  require(n <= 1024, "set_num_threads: expected n <= 1024 but received " +
                         std::to_string(n));
  pool().threads.store(n, std::memory_order_relaxed);
}

void parallel_for_erased(index_t n, index_t grain,
                         const std::function<void(index_t, index_t)>& body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  index_t nchunks = std::min<index_t>(num_threads(), n / grain);
  if (nchunks > 1 && pool().try_run(n, nchunks, body)) return;
  body(0, n);
}

}  // namespace fastmlp
