#pragma once
// A SQLite VFS ("spillway-joined-wal") that joins the writes of a commit to the write-ahead log into one
// system call, and passes everything else to the default VFS unchanged.
//
// Why: SQLite writes each WAL frame as two writes, its 24-byte header and then its page, so a commit of N
// pages is 2N `pwrite`s; on this project's 2-core VM that was 44 us of kernel time for a 12-page commit
// against 5.5 us for one write of the same bytes, and about half of the committing thread's CPU at one
// connection (bench/RESULTS.md, seventeenth session).
//
// What it does, per WAL file handle: a frame appended at the end of what this handle last appended
// (its header, then its page) is copied into a buffer instead of written. The buffer is written, in one
// call, as soon as it holds the page of a frame whose header marks a commit (a non-zero database size in
// bytes 4-7; the last frame SQLite writes before it publishes the commit in the WAL index), before any
// other operation on the file (a read, a sync, a truncate, a size, a file control, close, a write anywhere
// else), and when it would pass 124 KiB. So:
// - a commit's frames are in the file (the OS's page cache) before the commit is visible to any other
//   connection, as without the VFS; a crash of the process loses nothing that it would not have lost;
// - an error writing the buffer is returned by the call that wrote it: the commit's last write for a
//   commit (SQLite then rolls the transaction back), otherwise the operation that caused the flush;
// - writes are never reordered: a write that is not such an append (the WAL header, a page rewritten in
//   place, the checksums SQLite rewrites after one) writes the buffer first and then goes straight through.
// The database file and every other file are the default VFS's own, untouched.

#include <cstdint>

namespace spillway::telemetry {

// Registers the VFS on the first call (not as the default) and returns its name for sqlite3_open_v2; null
// when it cannot be registered (then open with the default VFS). Thread-safe.
const char* joined_wal_vfs();

struct JoinedWalCounts {
  uint64_t writes = 0;   // xWrite calls SQLite made on WAL files opened through the VFS
  uint64_t written = 0;  // writes this VFS issued to the files for them (joined or straight through)
};
// Process-wide, since start.
JoinedWalCounts joined_wal_counts();

// Tests: the next `n` writes of a buffer fail with SQLITE_IOERR_WRITE (the buffer is dropped, as a failed
// write would leave it).
void fail_joined_wal_flushes_for_test(int n);

}  // namespace spillway::telemetry
