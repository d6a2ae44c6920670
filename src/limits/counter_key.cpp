#include "limits/counter_key.h"

namespace spillway::limits {
namespace {

void append_or_none(std::string& out, std::string_view value) { out += value.empty() ? kNoTagValue : value; }

}  // namespace

void append_counter_key(std::string& out, const config::Counter& counter, const CounterSubject& subject) {
  const config::Subscription& sub = *subject.subscription;
  switch (counter.kind) {
    case config::CounterKind::kSubscription:
      out += "sub:";
      out += sub.name;
      return;
    case config::CounterKind::kProduct:
      out += "product:";
      append_or_none(out, sub.product);
      return;
    case config::CounterKind::kUser:
      if (subject.user_hash.empty()) {
        // No user id on this request: it counts as its subscription would.
        out += "sub:";
        out += sub.name;
      } else {
        out += "user:";
        out += subject.user_hash;
      }
      return;
    case config::CounterKind::kTag: {
      out += "tag:";
      out += counter.tag;
      out += '=';
      auto it = sub.tags.find(counter.tag);
      out += it == sub.tags.end() ? kNoTagValue : std::string_view(it->second);
      return;
    }
    case config::CounterKind::kApi:
      out += "api:";
      append_or_none(out, subject.api);
      return;
    case config::CounterKind::kDeployment:
      out += "deployment:";
      append_or_none(out, subject.deployment);
      return;
  }
}

}  // namespace spillway::limits
