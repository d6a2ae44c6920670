#include "telemetry/identity.h"

#include <gtest/gtest.h>

#include "telemetry/identity_policy.h"

namespace spillway::telemetry {
namespace {

using config::UserIdSource;

TEST(Hmac, Rfc4231Vectors) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // RFC 4231 test case 1: key = 20 bytes of 0x0b.
  EXPECT_EQ(hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(UserHasher, FirstSixteenHexCharsOfTheHmac) {
  UserHasher hasher("Jefe");
  EXPECT_TRUE(hasher.enabled());
  EXPECT_EQ(kUserHashHexChars, 16u);
  EXPECT_EQ(hasher.hash("what do ya want for nothing?"), "5bdcc146bf60754e");
  EXPECT_EQ(hasher.hash(""), "");
  EXPECT_NE(hasher.hash("alice"), hasher.hash("bob"));
  EXPECT_NE(UserHasher("k1").hash("alice"), UserHasher("k2").hash("alice"));
}

// The precomputed HMAC states and the per-thread cache give exactly OpenSSL's one-shot HMAC: keys shorter
// than, equal to and longer than the 64-byte block (hashed first), ids of every length around the 8-byte
// words of the cache's hash, first computed and then remembered, with several hashers on one thread.
TEST(UserHasher, MatchesTheOneShotHmacForEveryKeyAndIdLength) {
  for (std::size_t key_len : {1u, 5u, 63u, 64u, 65u, 131u}) {
    std::string key;
    for (std::size_t i = 0; i < key_len; ++i) key.push_back(static_cast<char>('a' + i * 7 % 26));
    UserHasher hasher(key);
    UserHasher other(key + "x");
    for (int round = 0; round < 2; ++round) {
      for (std::size_t id_len = 1; id_len <= 40; ++id_len) {
        const std::string id = std::string(id_len, 'u') + std::to_string(id_len % 3);
        const std::string expected = hmac_sha256_hex(key, id).substr(0, kUserHashHexChars);
        EXPECT_EQ(hasher.hash(id), expected) << key_len << " " << id;
        EXPECT_NE(other.hash(id), expected) << key_len << " " << id;
      }
    }
  }
}

// A hasher that replaces another (a config reload with a new key) never sees the old one's hashes.
TEST(UserHasher, AReplacedHasherDoesNotServeTheOldKeysHashes) {
  std::string first;
  {
    UserHasher old_hasher("old-key");
    first = old_hasher.hash("carol@example.com");
  }
  UserHasher new_hasher("new-key");
  EXPECT_NE(new_hasher.hash("carol@example.com"), first);
  EXPECT_EQ(new_hasher.hash("carol@example.com"),
            hmac_sha256_hex("new-key", "carol@example.com").substr(0, kUserHashHexChars));
}

TEST(UserHasher, NoKeyNoHash) {
  UserHasher hasher("");
  EXPECT_FALSE(hasher.enabled());
  EXPECT_EQ(hasher.hash("alice"), "");
}

config::IdentitySettings settings(std::string key = "k") {
  config::IdentitySettings s;
  s.user_id = {{UserIdSource::Kind::kJwtClaim, "oid"},
               {UserIdSource::Kind::kHeader, "x-user-id"},
               {UserIdSource::Kind::kHeader, "x-ms-client-principal-id"}};
  s.user_hash_key = std::move(key);
  return s;
}

TEST(FindUserId, FirstPresentHeaderSourceWins) {
  const auto s = settings();
  EXPECT_EQ(find_user_id(s, {{"x-ms-client-principal-id", "p"}, {"x-user-id", " alice "}}), "alice");
  EXPECT_EQ(find_user_id(s, {{"x-user-id", "  "}, {"x-ms-client-principal-id", "p"}}), "p");
  EXPECT_EQ(find_user_id(s, {{"authorization", "Bearer x"}}), "");
  EXPECT_EQ(find_user_id(config::IdentitySettings{}, {{"x-user-id", "alice"}}), "");
}

TEST(IdentityPolicy, SetsTheHashAndKeepsTheRawIdFromBackends) {
  const auto s = settings("secret-key");
  IdentityPolicy policy(s);
  http::Request request;
  request.headers = {{"x-user-id", "alice@example.com"}};
  pipeline::RequestContext ctx;
  ctx.request = &request;
  EXPECT_FALSE(policy.on_request(ctx));
  EXPECT_EQ(ctx.user_hash, UserHasher("secret-key").hash("alice@example.com"));
  EXPECT_EQ(ctx.user_hash.size(), 16u);
  EXPECT_EQ(ctx.upstream_remove_headers, (std::vector<std::string>{"x-user-id", "x-ms-client-principal-id"}));
}

TEST(IdentityPolicy, NoIdNoHash) {
  const auto s = settings();
  IdentityPolicy policy(s);
  http::Request request;
  pipeline::RequestContext ctx;
  ctx.request = &request;
  policy.on_request(ctx);
  EXPECT_EQ(ctx.user_hash, "");
}

TEST(IdentityPolicy, PublishesToolsOnceTheBodyIsKnown) {
  const auto s = settings();
  IdentityPolicy policy(s);
  http::Request request;
  pipeline::RequestContext ctx;
  ctx.request = &request;
  policy.on_request(ctx);
  EXPECT_TRUE(ctx.tools.empty());
  ctx.fields.tools = {"get_weather", "search"};
  http::HeaderList headers;
  policy.on_response(ctx, headers);
  EXPECT_EQ(ctx.tools, ctx.fields.tools);
  EXPECT_TRUE(headers.empty());
}

}  // namespace
}  // namespace spillway::telemetry
