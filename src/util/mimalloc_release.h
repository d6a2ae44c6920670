#pragma once
// mimalloc's part of util::release_thread_free_memory() (util/allocator.h). Built only with
// SPILLWAY_MIMALLOC, into spw_mimalloc, which links mimalloc.

namespace spillway::util {

// Returns to the OS the pages of the calling thread's mimalloc heap that hold no live block, including
// blocks other threads freed (a worker's usage records, freed by the usage writer), and the spans of its
// segments that waited longer than mi_option_decommit_delay. Keeps the delay as it found it. While one
// thread releases, the delay is 0 for the whole process (0.1-0.2 ms under load), and another thread's call
// returns false at once, releasing nothing: so never from a SCHED_IDLE thread, which could be kept off the
// CPU with the delay at 0.
bool mimalloc_release_thread_free_memory();

}  // namespace spillway::util
