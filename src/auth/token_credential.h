#pragma once
// A backend credential backed by a token endpoint: the token is cached (TokenCache), refreshed in the
// background of a request once it is within its refresh margin, and fetched in the foreground by one caller
// when there is none (the others wait for that fetch). Used for managed identity and client credentials.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "auth/backend_credential.h"
#include "auth/token_request.h"
#include "util/clock.h"

namespace spillway::auth {

// Token endpoint timeouts.
inline constexpr std::chrono::milliseconds kTokenConnectTimeout{2'000};
inline constexpr std::chrono::milliseconds kTokenTotalTimeout{10'000};
// How often a caller waiting for another caller's fetch looks at the shared state.
inline constexpr std::chrono::milliseconds kTokenWaitPoll{5};

// Where tokens come from. fetch() runs on the calling worker's executor, is bounded by the token endpoint
// timeouts, logs its own failures (never a token or secret) and never throws.
class TokenSource {
 public:
  virtual ~TokenSource() = default;
  virtual boost::asio::awaitable<std::optional<ParsedToken>> fetch() = 0;
};

// Fetches with `request` over a connection pool created for the call (HTTPS verified). `backend` and
// `label` ("managed identity") name it in logs.
std::unique_ptr<TokenSource> make_http_token_source(std::string backend, std::string label,
                                                    TokenRequest request);

// REQUIRES: `clock` outlives the credential.
std::shared_ptr<BackendCredential> make_token_credential(std::unique_ptr<TokenSource> source,
                                                         const util::Clock& clock);

}  // namespace spillway::auth
