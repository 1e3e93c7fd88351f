#include "o2gw/http.hpp"

#include <gtest/gtest.h>

namespace o2gw::http {
namespace {

TEST(PercentDecode, DecodesOnce) {
  std::string out;
  ASSERT_TRUE(percent_decode("a%2Fb%2541", out));
  EXPECT_EQ(out, "a/b%41");
  ASSERT_TRUE(percent_decode("a+b", out, true));
  EXPECT_EQ(out, "a b");
  ASSERT_TRUE(percent_decode("a+b", out, false));
  EXPECT_EQ(out, "a+b");
}

TEST(PercentDecode, RejectsTruncatedOrNonHexEscapes) {
  std::string out;
  EXPECT_FALSE(percent_decode("%", out));
  EXPECT_FALSE(percent_decode("%4", out));
  EXPECT_FALSE(percent_decode("%zz", out));
  EXPECT_FALSE(percent_decode("ab%g1", out));
}

TEST(PercentDecode, ValidityCheckAgreesWithDecoding) {
  std::string out;
  for (const char* s : {"", "a", "%41", "a%2Fb%25", "%", "%4", "%zz", "ab%g1", "x%41%", "%%41", "filter=(eq,a,100%)"}) {
    EXPECT_EQ(percent_encoding_valid(s), percent_decode(s, out)) << s;
  }
  EXPECT_TRUE(percent_encoding_valid("filter=(eq%2Cname%2Cx)&all_fields"));
  EXPECT_FALSE(percent_encoding_valid("limit=1%"));
}

TEST(Request, HeaderLookupIsCaseInsensitive) {
  Request r;
  r.headers = {{"X-Request-Id", "abc"}, {"content-type", "text/plain"}};
  EXPECT_EQ(r.header("x-request-id"), "abc");
  EXPECT_EQ(r.header("Content-Type"), "text/plain");
  EXPECT_TRUE(r.header("missing").empty());
}

TEST(Request, QueryParameters) {
  Request r;
  r.query = "filter=(eq%2Cname%2Cx)&all_fields&limit=10";
  std::string v;
  ASSERT_TRUE(r.query_param("filter", v));
  EXPECT_EQ(v, "(eq,name,x)");
  ASSERT_TRUE(r.query_param("all_fields", v));
  EXPECT_EQ(v, "");
  ASSERT_TRUE(r.query_param("limit", v));
  EXPECT_EQ(v, "10");
  EXPECT_FALSE(r.query_param("fields", v));
}

TEST(Method, RoundTrips) {
  EXPECT_EQ(parse_method("DELETE"), Method::del);
  EXPECT_EQ(method_name(Method::patch), "PATCH");
  EXPECT_EQ(parse_method("BREW"), Method::other);
  EXPECT_EQ(parse_method("get"), Method::other);
}

}  // namespace
}  // namespace o2gw::http
