#include "o2gw/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace o2gw {
namespace {

http::Response text(std::string s) {
  http::Response r;
  r.body = std::move(s);
  return r;
}

http::Request request(http::Method m, std::string path) {
  http::Request r;
  r.method = m;
  r.method_text = std::string(http::method_name(m));
  r.path = std::move(path);
  r.request_id = "rid-1";
  return r;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router.add(http::Method::get, "/a/{id}", [](const auto&, const PathParams& p) { return text("a:" + p.get("id")); });
    router.add(http::Method::get, "/a/{id}/dict", [](const auto&, const PathParams& p) { return text("d:" + p.get("id")); });
    router.add(http::Method::get, "/a/list", [](const auto&, const PathParams&) { return text("list"); });
    router.add(http::Method::post, "/s", [](const auto&, const PathParams&) { return text("post"); });
    router.add(http::Method::del, "/s/{sid}", [](const auto&, const PathParams&) { return text("del"); });
  }
  Router router;
};

TEST_F(RouterTest, MatchesTemplatesAndExtractsParameters) {
  auto r = router.dispatch(request(http::Method::get, "/a/42"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "a:42");
  EXPECT_EQ(r.route, "/a/{id}");
  EXPECT_EQ(router.dispatch(request(http::Method::get, "/a/7/dict")).body, "d:7");
}

TEST_F(RouterTest, LiteralSegmentWinsOverParameter) {
  EXPECT_EQ(router.dispatch(request(http::Method::get, "/a/list")).body, "list");
}

TEST_F(RouterTest, TrailingSlashIsTolerated) {
  EXPECT_EQ(router.dispatch(request(http::Method::get, "/a/42/")).body, "a:42");
  EXPECT_EQ(router.dispatch(request(http::Method::get, "/a/42//")).status, 404);
}

TEST_F(RouterTest, UnknownPathIs404ProblemJson) {
  auto r = router.dispatch(request(http::Method::get, "/nope"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/problem+json");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["status"], 404);
  EXPECT_EQ(body["instance"], "/nope");
  EXPECT_EQ(body["additionalAttributes"]["requestId"], "rid-1");
  EXPECT_FALSE(body["detail"].get<std::string>().empty());
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  auto r = router.dispatch(request(http::Method::put, "/a/42"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].name, "Allow");
  EXPECT_EQ(r.headers[0].value, "GET, HEAD");
  auto del = router.dispatch(request(http::Method::get, "/s/1"));
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(del.headers[0].value, "DELETE");
}

TEST_F(RouterTest, HeadUsesGetHandler) {
  auto r = router.dispatch(request(http::Method::head, "/a/1"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "a:1");
}

TEST_F(RouterTest, EmptyParameterSegmentDoesNotMatch) {
  EXPECT_EQ(router.dispatch(request(http::Method::get, "/a//dict")).status, 404);
}

TEST_F(RouterTest, DuplicateRouteThrows) {
  EXPECT_THROW(router.add(http::Method::get, "/a/{id}", [](const auto&, const auto&) { return text(""); }),
               std::logic_error);
}

TEST_F(RouterTest, RoutesListsEveryRegistration) {
  EXPECT_EQ(router.routes().size(), 5u);
}

}  // namespace
}  // namespace o2gw
