#pragma once
// Random edits of a text, for the differential tests that compare a fast path with its reference on
// mutated inputs (tests/unit/http/fast_head_test.cpp, tests/unit/api/usage_test.cpp).

#include <cstddef>
#include <random>
#include <string>
#include <string_view>

namespace spillway::testing {

// One to three edits at or after `first` (while `text` reaches past it): each replaces a byte by one of
// `alphabet`, inserts one, or erases one. Deterministic for a given `rng` state.
inline void mutate(std::string& text, std::size_t first, std::string_view alphabet, std::mt19937& rng) {
  const int edits = 1 + static_cast<int>(rng() % 3);
  for (int e = 0; e < edits && text.size() > first; ++e) {
    const std::size_t at = first + rng() % (text.size() - first);
    const char c = alphabet[rng() % alphabet.size()];
    switch (rng() % 3) {
      case 0:
        text[at] = c;
        break;
      case 1:
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
        break;
      default:
        text.erase(at, 1);
        break;
    }
  }
}

}  // namespace spillway::testing
