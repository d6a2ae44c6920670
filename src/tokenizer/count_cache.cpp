#include "tokenizer/count_cache.h"

namespace spillway::tokenizer {

CountCache::CountCache()
    : owners_{util::next_cache_owner(), util::next_cache_owner()}, kept_(new Kept[kSets * 2]) {}

CountCache& CountCache::for_thread() {
  thread_local CountCache cache;
  return cache;
}

CountCache::Kept* CountCache::set_of(std::string_view s) {
  // The length, then the first and the last 16 bytes, under the process's hash key.
  char summary[8 + 32];
  const uint64_t n = s.size();
  std::memcpy(summary, &n, 8);
  std::memcpy(summary + 8, s.data(), 16);
  std::memcpy(summary + 24, s.data() + s.size() - 16, 16);
  const util::Hash128 h = util::keyed_hash128(std::string_view(summary, sizeof summary));
  return &kept_[(h.h1 & (kSets - 1)) * 2];
}

namespace {

// The heap bytes a string holds (none while its text fits in the string itself).
std::size_t held(const std::string& s) {
  static const std::size_t in_place = std::string().capacity();
  return s.capacity() > in_place ? s.capacity() : 0;
}

}  // namespace

void CountCache::keep(Kept* set, uint64_t owner, std::string_view s, int64_t count) {
  // The new text takes the second entry's place, then becomes the first. Its buffer is reused when it is
  // large enough and not more than twice as large; the budget counts the buffers, so it bounds the memory.
  Kept& victim = set[1];
  const std::size_t before = held(victim.text);
  const bool reuse = before >= s.size() && before <= 2 * s.size();
  kept_bytes_ -= before;
  if (reuse) {
    victim.text.assign(s.data(), s.size());
  } else {
    victim.text = std::string();
    make_room(s.size());
    victim.text = std::string(s);
  }
  kept_bytes_ += held(victim.text);
  victim.owner = owner;
  victim.count = count;
  std::swap(set[0], set[1]);
}

void CountCache::make_room(std::size_t bytes) {
  // A hand goes round the sets and empties entries until `bytes` more fit: the second (less recently
  // used) entries first, then any. Bounded: two rounds empty every entry.
  for (std::size_t step = 0; kept_bytes_ + bytes > kByteBudget && step < 2 * kSets; ++step) {
    Kept& k = kept_[hand_ * 2 + (step < kSets ? 1 : 0)];
    hand_ = (hand_ + 1) % kSets;
    kept_bytes_ -= held(k.text);
    k = Kept{};
  }
}

}  // namespace spillway::tokenizer
