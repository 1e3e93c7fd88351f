// Fuzzes the webhook code that reads outside text: callback URLs (from subscribers),
// resolved host/address pairs, guard entries (from config) and X-O2-Signature
// headers (what a receiver would verify). The input is split on NUL bytes into
// a URL, a host, an address, a guard entry, a signature header and a body. Any
// exception other than a documented one, or a sanitizer report, is a bug.
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "split_input.hpp"
#include "o2gw/webhook.hpp"

namespace {

const o2gw::CallbackGuard& default_guard() {
  static const o2gw::CallbackGuard guard;
  return guard;
}

const o2gw::CallbackGuard& configured_guard() {
  static const o2gw::CallbackGuard guard({
      .allow = {"10.0.0.0/8", "*.smo.example", "localhost", "::ffff:192.0.2.0/120", "2001:db8::/32"},
      .deny = {"10.9.0.0/16", "bad.smo.example", "fd00::/8"},
  });
  return guard;
}

const o2gw::SigningKeyRing& ring() {
  static const o2gw::SigningKeyRing keys({{"2026-01-01", "0123456789abcdef0123456789abcdef-a"},
                                          {"2026-06-01", "0123456789abcdef0123456789abcdef-b"}});
  return keys;
}

void check_reason(const std::optional<std::string>& reason) {
  // A refusal always says why.
  if (reason && reason->empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto parts = o2gw::fuzz::split_input<6>(data, size);
  const auto& [url, host, address, entry, header, body] = parts;

  for (const auto* guard : {&default_guard(), &configured_guard()}) {
    check_reason(guard->check_url(url));
    check_reason(guard->check_address(host, address));
    check_reason(guard->check_address(url, host));
  }

  try {
    const o2gw::CallbackGuard guard({.allow = {entry}, .deny = {}});
    check_reason(guard.check_url(url));
    check_reason(guard.check_address(host, address));
    const o2gw::CallbackGuard denying({.allow = {}, .deny = {entry}});
    check_reason(denying.check_url(url));
  } catch (const std::invalid_argument&) {
    // A malformed entry is reported this way and only this way.
  }

  const std::int64_t now = 1'800'000'000;
  (void)ring().verify(header, body, now, std::chrono::seconds(300));
  (void)ring().verify(url, host, now, std::chrono::seconds(300));
  // Whatever the body, what sign() produces verifies, and not with another body.
  const std::string signature = ring().sign(body, now);
  if (!ring().verify(signature, body, now + 300, std::chrono::seconds(300))) std::abort();
  if (ring().verify(signature, body + "x", now, std::chrono::seconds(300))) std::abort();
  return 0;
}
