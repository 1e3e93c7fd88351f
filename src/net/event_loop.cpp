#include <pthread.h>

#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "o2gw/http_client.hpp"

namespace o2gw::net {

namespace asio = boost::asio;

// Shared between the Timer handles the caller holds and the pending wait. The
// wait holds only a weak reference, so dropping every Timer handle cancels it.
struct TimerState {
  enum : int { pending, fired, cancelled };
  // One transition away from `pending` wins: after cancel() succeeds, fn cannot start.
  std::atomic<int> phase{pending};
  asio::io_context* ioc = nullptr;
  // The asio timer lives in its own completion handler; weak so an expired or
  // dropped wait frees it, and so a Timer outliving the loop never touches it.
  std::weak_ptr<asio::steady_timer> timer;

  bool try_cancel() {
    int expected = pending;
    return phase.compare_exchange_strong(expected, cancelled);
  }
  // Frees the pending wait now instead of at its expiry. Posted because an asio
  // timer must not be used concurrently with the thread completing it.
  void release_wait() {
    // The wait holds the only other reference to the asio timer, and the loop's
    // destructor frees the wait: a live timer means a live io_context.
    auto t = timer.lock();
    // A stopped loop is being torn down; its destructor frees the wait.
    if (!t || ioc->stopped()) return;
    asio::post(*ioc, [t] { t->cancel(); });
  }
  ~TimerState() {
    if (phase.load() == pending) release_wait();
  }
};

void EventLoop::Timer::cancel() {
  if (state_ && state_->try_cancel()) state_->release_wait();
}

bool EventLoop::Timer::active() const {
  return state_ && state_->phase.load() == TimerState::pending;
}

struct EventLoop::Impl {
  std::string name;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::vector<std::thread> threads;

  void run_thread() {
    // A callback that throws must not take the loop (and the process) down with it.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("event loop '{}': a callback threw: {}", name, e.what());
      } catch (...) {
        spdlog::error("event loop '{}': a callback threw a non-standard exception", name);
      }
    }
  }
};

EventLoop::EventLoop(unsigned threads, std::string name) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  unsigned count = std::max(1u, threads);
  impl_->threads.reserve(count);
  for (unsigned i = 0; i < count; ++i) {
    impl_->threads.emplace_back([impl = impl_.get(), i] {
      // Linux limits thread names to 15 characters.
      std::string thread_name = (impl->name + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      impl->run_thread();
    });
  }
}

// Must not run on one of the loop's own threads (it would join itself).
EventLoop::~EventLoop() {
  impl_->work.reset();
  impl_->ioc.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  // impl_ (and with it the io_context) goes next: its destructor destroys the
  // handlers still queued, which is what drops pending callbacks and timers.
}

void EventLoop::post(std::function<void()> fn) {
  asio::post(impl_->ioc, std::move(fn));
}

EventLoop::Timer EventLoop::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto state = std::make_shared<TimerState>();
  state->ioc = &impl_->ioc;
  auto timer = std::make_shared<asio::steady_timer>(impl_->ioc, delay);
  state->timer = timer;
  timer->async_wait(
      [timer, weak = std::weak_ptr<TimerState>(state), fn = std::move(fn)](const boost::system::error_code& ec) {
        if (ec) return;
        auto st = weak.lock();
        if (!st) return;  // every Timer handle was dropped: cancelled
        int expected = TimerState::pending;
        if (!st->phase.compare_exchange_strong(expected, TimerState::fired)) return;
        st.reset();  // fn may drop the last handle itself
        fn();
      });
  Timer handle;
  handle.state_ = std::move(state);
  return handle;
}

void* EventLoop::native() const {
  return &impl_->ioc;
}

}  // namespace o2gw::net
