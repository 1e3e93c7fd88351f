#include "o2gw/uuid.hpp"

#include <gtest/gtest.h>

#include <set>

namespace o2gw {
namespace {

TEST(Uuid, ParsesAndPrintsCanonicalLowerCase) {
  auto u = Uuid::parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->str(), "6ba7b810-9dad-11d1-80b4-00c04fd430c8");
}

TEST(Uuid, RejectsMalformed) {
  for (const char* bad : {"", "6ba7b810", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c8a",
                          "6ba7b8109dad-11d1-80b4-00c04fd430c8-", "gba7b810-9dad-11d1-80b4-00c04fd430c8",
                          "6ba7b810_9dad_11d1_80b4_00c04fd430c8"}) {
    EXPECT_FALSE(is_uuid(bad)) << bad;
  }
}

// RFC 9562 appendix A.4 test vector: v5 of "www.example.com" in the DNS namespace.
TEST(Uuid, Version5MatchesRfcVector) {
  auto dns = *Uuid::parse("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  auto u = Uuid::v5(dns, "www.example.com");
  EXPECT_EQ(u.str(), "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_EQ(u.version(), 5);
}

TEST(Uuid, Version5IsDeterministicAndNameSensitive) {
  auto ns = Uuid::v4();
  EXPECT_EQ(Uuid::v5(ns, "site-a/resource/node-1"), Uuid::v5(ns, "site-a/resource/node-1"));
  EXPECT_NE(Uuid::v5(ns, "site-a/resource/node-1"), Uuid::v5(ns, "site-b/resource/node-1"));
}

TEST(Uuid, Version4IsRandomAndVersioned) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto u = Uuid::v4();
    EXPECT_EQ(u.version(), 4);
    EXPECT_EQ(u.bytes[8] & 0xC0, 0x80);
    seen.insert(u.str());
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace o2gw
