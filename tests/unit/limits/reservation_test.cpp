#include "limits/reservation.h"

#include <gtest/gtest.h>

#include <limits>

namespace spillway::limits {
namespace {

using config::ReserveCompletion;
using config::TokenLimitSettings;

TokenLimitSettings settings(ReserveCompletion mode, int64_t n = 0, int64_t default_completion = 256) {
  TokenLimitSettings s;
  s.tokens_per_minute = 1000;
  s.reserve_completion = mode;
  s.reserve_completion_tokens = n;
  s.default_completion_tokens = default_completion;
  return s;
}

TEST(CompletionReservation, MaxTokensModeReservesTheRequestsMaximum) {
  const auto s = settings(ReserveCompletion::kMaxTokens);
  EXPECT_EQ(completion_reservation(s, 4000, true), 4000);
  EXPECT_EQ(completion_reservation(s, 10, true), 10);
  EXPECT_EQ(completion_reservation(s, std::nullopt, true), 256);  // absent: the default
  EXPECT_EQ(completion_reservation(s, 0, true), 0);
  EXPECT_EQ(completion_reservation(s, -5, true), 0);
}

TEST(CompletionReservation, EstimateModeReservesTheDefaultButNeverMoreThanMaxTokens) {
  const auto s = settings(ReserveCompletion::kEstimate, 0, 300);
  EXPECT_EQ(completion_reservation(s, 4000, true), 300);
  EXPECT_EQ(completion_reservation(s, 100, true), 100);
  EXPECT_EQ(completion_reservation(s, std::nullopt, true), 300);
}

TEST(CompletionReservation, FixedModeReservesNButNeverMoreThanMaxTokens) {
  const auto s = settings(ReserveCompletion::kFixed, 50);
  EXPECT_EQ(completion_reservation(s, 4000, true), 50);
  EXPECT_EQ(completion_reservation(s, 20, true), 20);
  EXPECT_EQ(completion_reservation(s, std::nullopt, true), 50);
  EXPECT_EQ(completion_reservation(settings(ReserveCompletion::kFixed, 0), 4000, true), 0);
}

TEST(CompletionReservation, EmbeddingsHaveNoCompletion) {
  for (auto mode : {ReserveCompletion::kMaxTokens, ReserveCompletion::kEstimate, ReserveCompletion::kFixed}) {
    EXPECT_EQ(completion_reservation(settings(mode, 50), 4000, false), 0);
  }
}

TEST(TokenReservation, AddsPromptAndCompletion) {
  const auto s = settings(ReserveCompletion::kMaxTokens);
  EXPECT_EQ(token_reservation(s, 120, 500, true), 620);
  EXPECT_EQ(token_reservation(s, 120, std::nullopt, true), 376);
  EXPECT_EQ(token_reservation(s, 120, 500, false), 120);
  EXPECT_EQ(token_reservation(s, -3, 500, true), 500);
  EXPECT_EQ(token_reservation(s, std::numeric_limits<int64_t>::max(), 500, true),
            std::numeric_limits<int64_t>::max());
}

TEST(TokenReservation, IsCappedAtWhatTheLimitCouldEverAllow) {
  const auto s = settings(ReserveCompletion::kMaxTokens);
  const int64_t want = token_reservation(s, 200, 100'000, true);
  EXPECT_EQ(capped(want, 1000), 1000);
  EXPECT_EQ(capped(want, 1'000'000), 100'200);
  EXPECT_EQ(capped(999, 1000), 999);
}

TEST(SettledTokens, ReportedUsageWins) {
  EXPECT_EQ(settled_tokens({.forwarded = true, .refused = false, .usage_present = true, .total_tokens = 42}),
            42);
  // Even above the reservation: the excess is charged.
  EXPECT_EQ(
      settled_tokens({.forwarded = true, .refused = false, .usage_present = true, .total_tokens = 9000}),
      9000);
}

TEST(SettledTokens, NothingWhenNoBackendGeneratedTokens) {
  EXPECT_EQ(settled_tokens({.forwarded = false, .refused = false, .usage_present = false, .total_tokens = 0}),
            0);
  EXPECT_EQ(settled_tokens({.forwarded = true, .refused = true, .usage_present = false, .total_tokens = 0}),
            0);
}

TEST(SettledTokens, KeepsTheReservationWhenTokensMayHaveBeenGeneratedUnreported) {
  EXPECT_EQ(settled_tokens({.forwarded = true, .refused = false, .usage_present = false, .total_tokens = 0}),
            std::nullopt);
}

}  // namespace
}  // namespace spillway::limits
