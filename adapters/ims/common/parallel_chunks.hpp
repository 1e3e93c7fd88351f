// Splits independent work over the machine's cores. Used where an adapter
// turns a large back end (100,000 resources) into O2 documents at start-up:
// each document is independent, so the wall time divides by the core count.
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace o2gw::ims {

// Calls fn(begin, end) over [0, count) in contiguous chunks, on up to
// hardware_concurrency threads, and returns when all are done. Below
// `min_per_thread` items per thread it runs inline: threads cost more than they
// save on small inputs. The first exception thrown by a chunk is rethrown here,
// so nothing escapes a worker thread.
template <typename Fn>
void for_each_chunk(std::size_t count, std::size_t min_per_thread, const Fn& fn) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads =
      std::min(cores, std::max<std::size_t>(1, count / std::max<std::size_t>(1, min_per_thread)));
  if (threads <= 1) {
    fn(std::size_t{0}, count);
    return;
  }
  std::vector<std::exception_ptr> errors(threads);
  {
    std::vector<std::jthread> workers;
    workers.reserve(threads - 1);
    const std::size_t chunk = (count + threads - 1) / threads;
    auto run = [&](std::size_t t) {
      const std::size_t begin = std::min(count, t * chunk);
      const std::size_t end = std::min(count, begin + chunk);
      try {
        if (begin < end) fn(begin, end);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    };
    for (std::size_t t = 1; t < threads; ++t) workers.emplace_back(run, t);
    run(0);  // the calling thread takes the first chunk
  }          // joins
  for (const auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace o2gw::ims
