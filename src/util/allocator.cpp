#include "util/allocator.h"

#include <dlfcn.h>

#include <cstdlib>

namespace spillway::util {

std::string allocator_name() {
  // Looked up by name so that this library does not depend on mimalloc: present only when the
  // executable links it.
  using InHeap = bool (*)(const void*);
  using Version = int (*)();
  auto in_heap = reinterpret_cast<InHeap>(dlsym(RTLD_DEFAULT, "mi_is_in_heap_region"));
  auto version = reinterpret_cast<Version>(dlsym(RTLD_DEFAULT, "mi_version"));
  if (in_heap == nullptr || version == nullptr) return "glibc malloc";
  void* probe = std::malloc(64);
  const bool served = probe != nullptr && in_heap(probe);
  std::free(probe);
  if (!served) return "glibc malloc";
  const int v = version();  // e.g. 209 for 2.0.9
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v % 100 / 10) + "." +
         std::to_string(v % 10);
}

namespace {
FreeMemoryReleaser installed_releaser = nullptr;
}  // namespace

void set_free_memory_releaser(FreeMemoryReleaser releaser) { installed_releaser = releaser; }

bool release_thread_free_memory() { return installed_releaser == nullptr || installed_releaser(); }

}  // namespace spillway::util
