// Fuzzes the path from raw request bytes to a response: Beast's parser with the
// server's limits, then target splitting, percent-decoding, query parsing and
// routing over the real API routes. Any crash, sanitizer report or a 5xx is a bug.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdlib>

#include "o2gw/api.hpp"
#include "o2gw/inventory.hpp"
#include "o2gw/metrics.hpp"
#include "o2gw/query.hpp"
#include "o2gw/registry.hpp"

namespace bhttp = boost::beast::http;

namespace {
struct World {
  o2gw::Config config = o2gw::parse_config(o2gw::default_config_document());
  o2gw::InventoryCache inventory;
  o2gw::Registry registry{o2gw::FactoryTable::global(), {}};
  o2gw::Metrics metrics;
  std::atomic<bool> stopping{false};
  o2gw::Pager pager;
  o2gw::Router router;
  World() {
    o2gw::ApiContext ctx{&config, &inventory, &registry, &metrics, &stopping, &pager};
    o2gw::register_inventory_api(router, ctx);
    o2gw::register_admin_api(router, ctx);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  auto& msg = parser.get();
  o2gw::http::Request req;
  req.method_text = std::string(msg.method_string());
  req.method = o2gw::http::parse_method(req.method_text);
  req.target = std::string(msg.target());
  std::string_view target = req.target;
  auto q = target.find('?');
  if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
  if (!o2gw::http::percent_decode(target.substr(0, q), req.path)) return 0;
  req.request_id = "fuzz";
  std::string value;
  if (req.path.rfind("/metrics", 0) == 0) return 0;  // scraping is not input-dependent
  auto res = world.router.dispatch(req);
  if (res.status >= 500 && res.status != 501 && res.status != 503) std::abort();
  return 0;
}
