#include "auth/password_pool.hpp"

#include "common/log.hpp"

namespace umstore::auth {
namespace {

// One admitted check: its place is given back when the job goes.
struct CheckJob {
  std::shared_ptr<std::atomic<std::size_t>> admitted;
  std::function<bool()> verify;
  CheckJob(std::shared_ptr<std::atomic<std::size_t>> a, std::function<bool()> v)
      : admitted(std::move(a)), verify(std::move(v)) {}
  CheckJob(const CheckJob&) = delete;
  CheckJob& operator=(const CheckJob&) = delete;
  ~CheckJob() { admitted->fetch_sub(1); }
};

// Adopts `raw`. g++ 12 destroys temporaries of a co_await expression (and
// by-value coroutine arguments) once too often (valgrind: reads of freed
// shared_ptr control blocks), so what crosses a co_await here is a plain
// pointer or a reference, and the initiation captures references only.
net::Task<PasswordCheck> run_check(asio::thread_pool& pool, CheckJob* raw) {
  const std::shared_ptr<CheckJob> job(raw);
  // A plain post and a dispatch back to the caller's executor (its strand).
  const PasswordCheck result = co_await asio::async_initiate<decltype(asio::use_awaitable), void(PasswordCheck)>(
      [&pool, &job](auto handler) {
        asio::post(pool, [job, handler = std::move(handler)]() mutable {
          PasswordCheck outcome = PasswordCheck::Unavailable;
          try {
            outcome = job->verify() ? PasswordCheck::Valid : PasswordCheck::Invalid;
          } catch (const std::exception& e) {
            log(LogLevel::Warning, "auth", "password check failed: {}", e.what());
          }
          const auto executor = asio::get_associated_executor(handler);
          asio::dispatch(executor, [handler = std::move(handler), outcome]() mutable { std::move(handler)(outcome); });
        });
      },
      asio::use_awaitable);
  co_return result;
}

net::Task<PasswordCheck> busy() { co_return PasswordCheck::Busy; }

}  // namespace

PasswordPool::PasswordPool(std::size_t threads, std::size_t max_waiting)
    : pool_(threads), capacity_(threads + max_waiting) {}

PasswordPool::~PasswordPool() { pool_.join(); }

// Not a coroutine: `verify` is owned by the job before anything is awaited.
net::Task<PasswordCheck> PasswordPool::check(std::function<bool()> verify) {
  if (admitted_->fetch_add(1) >= capacity_) {
    admitted_->fetch_sub(1);
    return busy();
  }
  return run_check(pool_, new CheckJob(admitted_, std::move(verify)));
}

}  // namespace umstore::auth
