#pragma once
// Which allocator serves malloc (and so operator new) in this process. The gateway binary links mimalloc
// (Debian's libmimalloc-dev), which takes over malloc by symbol interposition; other binaries (the unit
// tests) keep glibc's. Detected at run time, so the answer is what the process really uses, not what the
// build asked for.

#include <string>

namespace spillway::util {

// "mimalloc 2.0.9" when a malloc'd block lies in mimalloc's heap; "glibc malloc" otherwise.
std::string allocator_name();

}  // namespace spillway::util
