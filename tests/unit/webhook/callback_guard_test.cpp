#include <gtest/gtest.h>

#include <string>

#include "o2gw/webhook.hpp"

namespace o2gw {
namespace {

// The reason for refusing `url`, or "" when it is accepted.
std::string url_reason(const CallbackGuard& guard, std::string_view url) {
  return guard.check_url(url).value_or("");
}
std::string address_reason(const CallbackGuard& guard, std::string_view host, std::string_view ip) {
  return guard.check_address(host, ip).value_or("");
}
bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string constructor_error(CallbackGuardOptions options) {
  try {
    CallbackGuard guard(std::move(options));
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(CallbackGuard, DefaultsAcceptOrdinaryCallbacks) {
  const CallbackGuard guard;
  EXPECT_EQ(url_reason(guard, "https://smo.example.com/o2ims/notify"), "");
  EXPECT_EQ(url_reason(guard, "http://smo.example.com:8080/cb?x=1&y=2"), "");
  EXPECT_EQ(url_reason(guard, "HTTPS://SMO.Example.COM"), "");
  EXPECT_EQ(url_reason(guard, "http://10.1.2.3:9000/cb"), "");  // private ranges are normal for SMOs
  EXPECT_EQ(url_reason(guard, "http://[2001:db8::1]:8443/cb"), "");
  EXPECT_EQ(url_reason(guard, "http://smo_internal.example./cb"), "");
  EXPECT_EQ(address_reason(guard, "smo.example.com", "10.1.2.3"), "");
  EXPECT_EQ(address_reason(guard, "smo.example.com", "2001:db8::1"), "");
  EXPECT_EQ(address_reason(guard, "", "192.0.2.10"), "");
}

TEST(CallbackGuard, DefaultRefusalsOfAddresses) {
  const CallbackGuard guard;
  struct Case {
    const char* ip;
    const char* what;
  };
  const Case cases[] = {
      {"127.0.0.1", "loopback"},        {"127.255.0.9", "loopback"},  {"::1", "loopback"},
      {"169.254.169.254", "link-local"}, {"169.254.0.1", "link-local"}, {"fe80::1", "link-local"},
      {"febf:ffff::1", "link-local"},   {"0.0.0.0", "unspecified"},   {"0.1.2.3", "unspecified"},
      {"::", "unspecified"},            {"224.0.0.1", "multicast"},   {"239.255.255.250", "multicast"},
      {"ff02::1", "multicast"},         {"255.255.255.255", "broadcast"}, {"fd00:ec2::254", "metadata"},
      {"::ffff:127.0.0.1", "loopback"}, {"::ffff:169.254.169.254", "link-local"},
      {"64:ff9b::a9fe:a9fe", "link-local"},  // NAT64 spelling of 169.254.169.254
  };
  for (const auto& c : cases) {
    const std::string reason = address_reason(guard, "", c.ip);
    EXPECT_TRUE(contains(reason, c.what)) << c.ip << ": " << reason;
    EXPECT_TRUE(contains(reason, "refused by default")) << c.ip << ": " << reason;
  }
  EXPECT_EQ(address_reason(guard, "", "fec0::1"), "");  // just outside fe80::/10
  EXPECT_EQ(address_reason(guard, "", "64:ff9b::a00:1"), "");
}

TEST(CallbackGuard, ReasonsNameWhatWasRefused) {
  const CallbackGuard guard;
  EXPECT_EQ(url_reason(guard, "http://169.254.169.254/latest/meta-data"),
            "callback host 169.254.169.254 is a link-local address (refused by default)");
  EXPECT_EQ(url_reason(guard, "http://[::1]:80/"), "callback host [::1] is a loopback address (refused by default)");
  EXPECT_EQ(address_reason(guard, "smo.example.com", "127.0.0.1"),
            "callback host smo.example.com resolves to 127.0.0.1, a loopback address (refused by default)");
  EXPECT_EQ(address_reason(guard, "", "127.0.0.1"), "callback address 127.0.0.1 is a loopback address (refused by default)");
  EXPECT_EQ(url_reason(guard, "http://metadata.google.internal/computeMetadata/v1/"),
            "callback host metadata.google.internal is a cloud metadata host name (refused by default)");
}

TEST(CallbackGuard, DefaultRefusalsOfHostNames) {
  const CallbackGuard guard;
  for (const char* url : {"http://metadata.google.internal/", "http://METADATA.Google.Internal./", "http://metadata/",
                          "http://instance-data/latest", "http://localhost:8080/", "http://api.localhost/"}) {
    EXPECT_NE(url_reason(guard, url), "") << url;
  }
  EXPECT_EQ(url_reason(guard, "http://metadata.example.com/"), "");
  EXPECT_EQ(url_reason(guard, "http://notlocalhost/"), "");
  // check_address applies the name rules too, whatever the name resolved to.
  EXPECT_TRUE(contains(address_reason(guard, "metadata.google.internal", "10.0.0.1"), "metadata host name"));
}

TEST(CallbackGuard, NumericHostSpellingsAreCheckedAsAddresses) {
  const CallbackGuard guard;
  for (const char* url : {"http://2130706433/", "http://0x7f000001/", "http://0x7f.1/", "http://127.1/",
                          "http://0177.0.0.1/", "http://127.0.0.1./", "http://[::ffff:127.0.0.1]/",
                          "http://[::ffff:a9fe:a9fe]/", "http://0xA9FEA9FE/"}) {
    EXPECT_TRUE(contains(url_reason(guard, url), "refused by default")) << url << ": " << url_reason(guard, url);
  }
  EXPECT_EQ(url_reason(guard, "http://0x7f000001/"),
            "callback host 0x7f000001 (127.0.0.1) is a loopback address (refused by default)");
  EXPECT_EQ(url_reason(guard, "http://167772161/"), "");  // 10.0.0.1
  EXPECT_TRUE(contains(url_reason(guard, "http://1.2.3.4.5/"), "not a valid IPv4 address"));
  EXPECT_TRUE(contains(url_reason(guard, "http://256.1.1.1/"), "not a valid IPv4 address"));
  EXPECT_TRUE(contains(url_reason(guard, "http://example.0x/"), "not a valid IPv4 address"));
  EXPECT_TRUE(contains(url_reason(guard, "http://4294967296/"), "not a valid IPv4 address"));
  EXPECT_EQ(url_reason(guard, "http://1a.example/"), "");  // a name: its last label is not a number
}

TEST(CallbackGuard, BadUrlsAreRefused) {
  const CallbackGuard guard;
  struct Case {
    const char* url;
    const char* reason_part;
  };
  const Case cases[] = {
      {"", "empty"},
      {"ftp://smo.example.com/x", "scheme 'ftp' is not allowed"},
      {"file:///etc/passwd", "scheme 'file' is not allowed"},
      {"gopher://smo.example.com/", "not allowed"},
      {"/relative/path", "must be absolute"},
      {"smo.example.com/cb", "must be absolute"},
      {"//smo.example.com/cb", "must be absolute"},
      {"http:/smo.example.com/cb", "must be absolute"},
      {"http:smo.example.com", "must be absolute"},
      {"http://user:pass@smo.example.com/", "user information"},
      {"http://@smo.example.com/", "user information"},
      {"http://smo.example.com/cb#frag", "fragment"},
      {"http://smo.example.com/cb#", "fragment"},
      {"http://smo.example.com:0/", "port '0'"},
      {"http://smo.example.com:65536/", "port '65536'"},
      {"http://smo.example.com:/", "port ''"},
      {"http://smo.example.com:80a/", "port"},
      {"http://smo.example.com:000080000/", "port"},
      {"http:///cb", "no host"},
      {"http://:8080/cb", "no host"},
      {"http://?x", "no host"},
      {"http://smo example.com/", "space"},
      {"http://smo.example.com/a b", "space"},
      {"http://smo.example.com\\@evil.com/", "backslash"},
      {"http://sm\xc3\xb6.example.com/", "non-ASCII"},
      {"http://::1/", "brackets"},
      {"http://[::1/", "unterminated"},
      {"http://[::1]x/", "after the IPv6 address"},
      {"http://[1.2.3.4]/", "not a valid IPv6 address"},
      {"http://[fe80::1%25eth0]/", "not a valid IPv6 address"},
      {"http://smo..example.com/", "label"},
      {"http://smo%2eexample.com/", "character"},
      {"http://*.example.com/", "character"},
  };
  for (const auto& c : cases) {
    const std::string reason = url_reason(guard, c.url);
    EXPECT_TRUE(contains(reason, c.reason_part)) << c.url << ": '" << reason << "'";
  }
  EXPECT_TRUE(contains(url_reason(guard, "http://h/" + std::string(5000, 'a')), "longer than"));
  EXPECT_EQ(url_reason(guard, "http://smo.example.com:65535"), "");
  EXPECT_EQ(url_reason(guard, "https://smo.example.com:1/"), "");
}

TEST(CallbackGuard, CheckAddressRejectsWhatIsNotAnAddress) {
  const CallbackGuard guard;
  EXPECT_TRUE(contains(address_reason(guard, "smo.example.com", "not-an-ip"), "not an IP address"));
  EXPECT_TRUE(contains(address_reason(guard, "smo.example.com", ""), "not an IP address"));
  EXPECT_TRUE(contains(address_reason(guard, "smo.example.com", "127.1"), "not an IP address"));
  EXPECT_TRUE(contains(address_reason(guard, "bad host!", "10.0.0.1"), "not allowed in a host name"));
  EXPECT_EQ(address_reason(guard, "smo.example.com", "[2001:db8::1]"), "");
}

TEST(CallbackGuard, AllowListOverridesDefaults) {
  const CallbackGuard guard({.allow = {"127.0.0.1", "localhost", "*.lab.example", "fd12::/16"}, .deny = {}});
  EXPECT_EQ(url_reason(guard, "http://127.0.0.1:9000/cb"), "");
  EXPECT_EQ(url_reason(guard, "http://localhost:9000/cb"), "");
  EXPECT_EQ(address_reason(guard, "localhost", "127.0.0.1"), "");
  EXPECT_EQ(address_reason(guard, "localhost", "::1"), "");  // the allowed name admits its addresses
  EXPECT_EQ(url_reason(guard, "http://smo.lab.example/"), "");
  EXPECT_EQ(address_reason(guard, "smo.lab.example", "169.254.1.1"), "");
  EXPECT_EQ(address_reason(guard, "", "fd12:3::4"), "");

  // Only what the allow list names is accepted.
  EXPECT_EQ(url_reason(guard, "http://lab.example/"), "");  // deferred: fd12::/16 may match once resolved
  EXPECT_EQ(address_reason(guard, "lab.example", "10.0.0.1"),
            "callback host lab.example resolves to 10.0.0.1, which is not on the allow list");
  EXPECT_EQ(url_reason(guard, "http://127.0.0.2/"), "callback host 127.0.0.2 is not on the allow list");
  EXPECT_EQ(address_reason(guard, "", "8.8.8.8"), "callback address 8.8.8.8 is not on the allow list");
}

TEST(CallbackGuard, AllowListOfNamesOnlyRefusesOtherNamesEarly) {
  const CallbackGuard guard({.allow = {"smo.example.com"}, .deny = {}});
  EXPECT_EQ(url_reason(guard, "https://smo.example.com/cb"), "");
  EXPECT_EQ(url_reason(guard, "https://SMO.example.com./cb"), "");
  EXPECT_EQ(url_reason(guard, "https://other.example.com/cb"),
            "callback host other.example.com is not on the allow list");
  EXPECT_EQ(url_reason(guard, "https://a.smo.example.com/cb"), "callback host a.smo.example.com is not on the allow list");
}

TEST(CallbackGuard, DenyWins) {
  const CallbackGuard guard({.allow = {"10.0.0.0/8", "*.example.com"}, .deny = {"10.9.0.0/16", "bad.example.com"}});
  EXPECT_EQ(url_reason(guard, "http://10.1.1.1/"), "");
  EXPECT_EQ(url_reason(guard, "http://10.9.1.1/"), "callback host 10.9.1.1 is on the deny list");
  EXPECT_EQ(url_reason(guard, "http://bad.example.com/"), "callback host bad.example.com is on the deny list");
  EXPECT_EQ(address_reason(guard, "good.example.com", "10.9.0.1"),
            "callback host good.example.com resolves to 10.9.0.1, which is on the deny list");
  EXPECT_EQ(address_reason(guard, "bad.example.com", "10.1.1.1"), "callback host bad.example.com is on the deny list");
  EXPECT_EQ(address_reason(guard, "good.example.com", "10.1.1.1"), "");
}

TEST(CallbackGuard, DenyAddsToTheDefaults) {
  const CallbackGuard guard({.allow = {}, .deny = {"*.corp.example", "192.0.2.0/24", "2001:db8:bad::/48"}});
  EXPECT_NE(url_reason(guard, "http://127.0.0.1/"), "");  // the built-in refusals still apply
  EXPECT_NE(url_reason(guard, "http://a.corp.example/"), "");
  EXPECT_NE(url_reason(guard, "http://a.b.corp.example/"), "");
  EXPECT_EQ(url_reason(guard, "http://corp.example/"), "");  // "*." matches subdomains only
  EXPECT_EQ(url_reason(guard, "http://xcorp.example/"), "");
  EXPECT_NE(url_reason(guard, "http://192.0.2.77/"), "");
  EXPECT_EQ(url_reason(guard, "http://192.0.3.1/"), "");
  EXPECT_NE(address_reason(guard, "x.example", "2001:db8:bad:1::1"), "");
  EXPECT_EQ(address_reason(guard, "x.example", "2001:db8:bae::1"), "");
}

TEST(CallbackGuard, CidrPrefixesV4AndV6) {
  const CallbackGuard guard({.allow = {"192.168.4.0/22", "10.0.0.7/32", "2001:db8:2::/47"},
                             .deny = {"2001:db8:3:8000::/49", "192.168.6.0/23"}});
  EXPECT_EQ(address_reason(guard, "", "192.168.4.0"), "");
  EXPECT_EQ(address_reason(guard, "", "192.168.5.255"), "");
  EXPECT_EQ(address_reason(guard, "", "192.168.7.255"), "callback address 192.168.7.255 is on the deny list");
  EXPECT_EQ(address_reason(guard, "", "192.168.8.0"), "callback address 192.168.8.0 is not on the allow list");
  EXPECT_EQ(address_reason(guard, "", "10.0.0.7"), "");
  EXPECT_NE(address_reason(guard, "", "10.0.0.6"), "");
  EXPECT_EQ(address_reason(guard, "", "2001:db8:2::1"), "");
  EXPECT_EQ(address_reason(guard, "", "2001:db8:3:7fff::1"), "");
  EXPECT_EQ(address_reason(guard, "", "2001:db8:3:8000::1"), "callback address 2001:db8:3:8000::1 is on the deny list");
  EXPECT_EQ(address_reason(guard, "", "2001:db8:4::1"), "callback address 2001:db8:4::1 is not on the allow list");
  EXPECT_EQ(address_reason(guard, "", "2001:db8:1:ffff::1"), "callback address 2001:db8:1:ffff::1 is not on the allow list");

  // Allowing everything lifts the built-in refusals too: the operator asked for it.
  const CallbackGuard everything({.allow = {"0.0.0.0/0", "::/0"}, .deny = {"100.64.0.0/10"}});
  EXPECT_EQ(address_reason(everything, "", "127.0.0.1"), "");
  EXPECT_EQ(address_reason(everything, "", "::1"), "");
  EXPECT_EQ(address_reason(everything, "", "100.127.255.255"), "callback address 100.127.255.255 is on the deny list");
  EXPECT_EQ(address_reason(everything, "", "100.128.0.0"), "");
}

TEST(CallbackGuard, MappedIpv4IsCheckedAsIpv4) {
  const CallbackGuard guard({.allow = {"::ffff:10.0.0.0/104", "192.0.2.1"}, .deny = {}});
  EXPECT_EQ(address_reason(guard, "", "10.200.0.1"), "");  // a mapped CIDR covers plain IPv4
  EXPECT_EQ(address_reason(guard, "", "::ffff:10.200.0.1"), "");
  EXPECT_EQ(address_reason(guard, "", "::ffff:192.0.2.1"), "");
  EXPECT_EQ(url_reason(guard, "http://[::ffff:c000:201]/"), "");
  EXPECT_NE(address_reason(guard, "", "::ffff:192.0.2.2"), "");

  const CallbackGuard deny_mapped({.allow = {}, .deny = {"::ffff:192.0.2.1"}});
  EXPECT_NE(address_reason(deny_mapped, "", "192.0.2.1"), "");
}

TEST(CallbackGuard, WildcardHosts) {
  const CallbackGuard guard({.allow = {"*.smo.example", "Exact.Example."}, .deny = {}});
  EXPECT_EQ(url_reason(guard, "http://a.smo.example/"), "");
  EXPECT_EQ(url_reason(guard, "http://A.B.SMO.example/"), "");
  EXPECT_NE(url_reason(guard, "http://smo.example/"), "");
  EXPECT_NE(url_reason(guard, "http://evilsmo.example/"), "");
  EXPECT_NE(url_reason(guard, "http://a.smo.example.evil/"), "");
  EXPECT_EQ(url_reason(guard, "http://exact.example/"), "");
  EXPECT_NE(url_reason(guard, "http://x.exact.example/"), "");
}

TEST(CallbackGuard, MalformedEntriesThrowNamingTheEntry) {
  struct Case {
    std::vector<std::string> allow;
    std::vector<std::string> deny;
    const char* part;
  };
  const Case cases[] = {
      {{""}, {}, "allow entry '' is empty"},
      {{}, {"10.0.0.0/33"}, "deny entry '10.0.0.0/33' has a prefix length over 32"},
      {{"::/129"}, {}, "prefix length over 128"},
      {{"10.0.0.0/"}, {}, "invalid prefix length"},
      {{"10.0.0.0/-1"}, {}, "invalid prefix length"},
      {{"10.0.0.0/8/8"}, {}, "invalid prefix length"},
      {{"10.1.2.0/16"}, {}, "did you mean 10.1.0.0/16"},
      {{"300.0.0.0/8"}, {}, "not a valid IP address or CIDR"},
      {{"example.com/24"}, {}, "not a valid IP address or CIDR"},
      {{"::ffff:0:0/64"}, {}, "IPv4-mapped"},
      {{"127.1"}, {}, "not a valid IP address"},
      {{"0x7f000001"}, {}, "not a valid IP address"},
      {{"1.2.3.4.5"}, {}, "not a valid IPv4 address"},
      {{"*.10.0.0.1"}, {}, "wildcard"},
      {{"*"}, {}, "character"},
      {{"*example.com"}, {}, "character"},
      {{"a.*.example.com"}, {}, "character"},
      {{"exa mple.com"}, {}, "character"},
      {{"a..b"}, {}, "label"},
      {{"[::1"}, {}, "character"},
      {{"[1.2.3.4]"}, {}, "not a valid IPv6 address"},
      {{"ok.example", "http://smo.example/"}, {}, "allow entry 'http://smo.example/'"},
  };
  for (const auto& c : cases) {
    const std::string error = constructor_error({c.allow, c.deny});
    EXPECT_TRUE(contains(error, c.part)) << c.part << ": '" << error << "'";
  }
  EXPECT_EQ(constructor_error({{"[::1]", "::1", "2001:db8::/32", "smo.example.", "*.smo.example"}, {"0.0.0.0/0"}}), "");
}

}  // namespace
}  // namespace o2gw
