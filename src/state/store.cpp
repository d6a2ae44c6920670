#include "state/store.h"

namespace spillway::state {

boost::asio::awaitable<Reservation> Store::reserve_async(std::span<const Charge> charges, SystemTime now) {
  co_return reserve(charges, now);
}

}  // namespace spillway::state
