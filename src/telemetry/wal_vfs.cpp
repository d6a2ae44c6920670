#include "telemetry/wal_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace spillway::telemetry {
namespace {

constexpr int kFrameHeaderBytes = 24;  // SQLite's WAL_FRAME_HDRSIZE
constexpr int kWalHeaderBytes = 32;    // SQLite's WAL_HDRSIZE
// About 30 frames of 4 KiB. Not more: the default (unix) VFS writes a call's length modulo 128 KiB
// (`nBuf &= 0x1ffff` in seekAndWriteFd) and so fails a longer write as if the disk were full. A larger
// commit (a default usage batch of 1024 rows is about 35 pages) is written in pieces.
constexpr int kMaxBuffer = 124 * 1024;
constexpr int kFirstBuffer = 32 * 1024;

constexpr const char* kVfsName = "spillway-joined-wal";

std::atomic<uint64_t> g_writes{0};
std::atomic<uint64_t> g_written{0};
std::atomic<int> g_fail_flushes{0};

sqlite3_vfs* g_real = nullptr;  // the default VFS, set once by joined_wal_vfs()

// A WAL file opened through the VFS; the default VFS's file follows it in the same allocation.
struct WalFile {
  sqlite3_file base;  // first: SQLite sees a WalFile as a sqlite3_file
  sqlite3_file* real;
  char* buf = nullptr;
  int len = 0;  // buffered bytes, for [start, start + len)
  int cap = 0;
  sqlite3_int64 start = 0;
  sqlite3_int64 next_frame = -1;  // where the frame after the last one appended starts; -1: not known
  sqlite3_int64 page_at = -1;     // where the page of the frame header just written goes; -1: none
  bool page_commits = false;      // that header marks a commit
};

constexpr std::size_t kWalFileBytes = (sizeof(WalFile) + 15) & ~std::size_t{15};

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }

uint32_t get_u32_be(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

int write_through(WalFile* f, const void* data, int amt, sqlite3_int64 off) {
  g_written.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xWrite(f->real, data, amt, off);
}

// Writes the buffer. On failure the buffer is dropped all the same: SQLite treats the write that failed
// as not done and rolls back (or retries from its own copies).
int flush(WalFile* f) {
  if (f->len == 0) return SQLITE_OK;
  const int len = f->len;
  f->len = 0;
  int expected = g_fail_flushes.load(std::memory_order_relaxed);
  while (expected > 0) {
    if (g_fail_flushes.compare_exchange_weak(expected, expected - 1)) return SQLITE_IOERR_WRITE;
  }
  return write_through(f, f->buf, len, f->start);
}

// Any operation but an appending write: the buffer goes first, and no frame header waits for its page.
int settle(WalFile* f) {
  f->page_at = -1;
  return flush(f);
}

// Appends to the buffer (which ends at `off` or is empty). False when it cannot hold `amt` more bytes
// even when empty, or no memory: the caller writes straight through.
bool append(WalFile* f, const void* data, int amt, sqlite3_int64 off, int& rc) {
  rc = SQLITE_OK;
  if (amt > kMaxBuffer) return false;
  if (f->len + amt > kMaxBuffer) {
    rc = flush(f);
    if (rc != SQLITE_OK) return true;
  }
  if (f->len + amt > f->cap) {
    int cap = f->cap == 0 ? kFirstBuffer : f->cap;
    while (cap < f->len + amt) cap *= 2;
    if (cap > kMaxBuffer) cap = kMaxBuffer;
    char* grown = static_cast<char*>(std::realloc(f->buf, static_cast<std::size_t>(cap)));
    if (!grown) {
      rc = flush(f);
      return rc != SQLITE_OK;
    }
    f->buf = grown;
    f->cap = cap;
  }
  if (f->len == 0) f->start = off;
  std::memcpy(f->buf + f->len, data, static_cast<std::size_t>(amt));
  f->len += amt;
  return true;
}

// A frame header was just written at `off`: its page, if it comes next, goes at off + 24.
void expect_page(WalFile* f, const void* header, sqlite3_int64 off) {
  f->page_at = off + kFrameHeaderBytes;
  f->page_commits = get_u32_be(static_cast<const char*>(header) + 4) != 0;
}

int wal_write(sqlite3_file* file, const void* data, int amt, sqlite3_int64 off) {
  WalFile* f = wal(file);
  g_writes.fetch_add(1, std::memory_order_relaxed);
  const bool page = off == f->page_at;
  const bool commits = page && f->page_commits;
  f->page_at = -1;
  int rc = SQLITE_OK;
  if (page) {
    // The page of the frame whose header came just before: appended when it continues the buffer (or
    // starts one, after a header written straight through or a flush between the two).
    f->next_frame = off + amt;
    if (f->len > 0 && f->start + f->len != off) {
      rc = flush(f);
      if (rc != SQLITE_OK) return rc;
    }
    if (!append(f, data, amt, off, rc)) {
      rc = flush(f);
      if (rc == SQLITE_OK) rc = write_through(f, data, amt, off);
      return rc;
    }
    if (rc != SQLITE_OK) return rc;
    return commits ? flush(f) : SQLITE_OK;
  }
  if (amt == kFrameHeaderBytes && off == f->next_frame && (f->len == 0 || f->start + f->len == off)) {
    // The header of a frame appended after the last one.
    expect_page(f, data, off);
    if (append(f, data, amt, off, rc)) return rc;
    rc = flush(f);
    return rc == SQLITE_OK ? write_through(f, data, amt, off) : rc;
  }
  // Anything else goes straight through, after the buffer.
  rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  rc = write_through(f, data, amt, off);
  if (rc != SQLITE_OK) return rc;
  if (off == 0 && amt == kWalHeaderBytes) {
    f->next_frame = kWalHeaderBytes;  // a new WAL: its first frame follows
  } else if (amt == kFrameHeaderBytes) {
    // A frame header where this handle did not expect one: a frame appended after a rollback, the first
    // this handle appends to a WAL it did not start, or a checksum rewritten in place. If its page follows
    // next, it was an append.
    expect_page(f, data, off);
  }
  return SQLITE_OK;
}

int wal_close(sqlite3_file* file) {
  WalFile* f = wal(file);
  const int flushed = settle(f);
  const int rc = f->real->pMethods->xClose(f->real);
  std::free(f->buf);
  f->buf = nullptr;
  f->cap = 0;
  return flushed != SQLITE_OK ? flushed : rc;
}

// The default VFS's method `Method`, after the buffer: every operation but an appending write.
template <auto Method, class... Args>
int settled(sqlite3_file* file, Args... args) {
  WalFile* f = wal(file);
  const int rc = settle(f);
  return rc != SQLITE_OK ? rc : (f->real->pMethods->*Method)(f->real, args...);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile* f = wal(file);
  if (op == SQLITE_FCNTL_VFSNAME) {
    // Name the layer for diagnostics, above the default VFS's name.
    const int rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (rc == SQLITE_OK && arg) {
      char** name = static_cast<char**>(arg);
      char* joined = sqlite3_mprintf("%s/%z", kVfsName, *name);
      if (joined) *name = joined;
    }
    return rc;
  }
  return settled<&sqlite3_io_methods::xFileControl>(file, op, arg);
}

int wal_sector_size(sqlite3_file* file) { return wal(file)->real->pMethods->xSectorSize(wal(file)->real); }

int wal_device_characteristics(sqlite3_file* file) {
  return wal(file)->real->pMethods->xDeviceCharacteristics(wal(file)->real);
}

// A WAL file has no shared memory and is never memory-mapped by SQLite; these forward all the same.
int wal_shm_map(sqlite3_file* file, int page, int size, int extend, void volatile** out) {
  WalFile* f = wal(file);
  if (f->real->pMethods->iVersion < 2 || !f->real->pMethods->xShmMap) return SQLITE_IOERR_SHMMAP;
  return settled<&sqlite3_io_methods::xShmMap>(file, page, size, extend, out);
}

int wal_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  WalFile* f = wal(file);
  if (f->real->pMethods->iVersion < 2 || !f->real->pMethods->xShmLock) return SQLITE_IOERR_SHMLOCK;
  return settled<&sqlite3_io_methods::xShmLock>(file, offset, n, flags);
}

void wal_shm_barrier(sqlite3_file* file) {
  WalFile* f = wal(file);
  if (f->real->pMethods->iVersion >= 2 && f->real->pMethods->xShmBarrier) {
    f->real->pMethods->xShmBarrier(f->real);
  }
}

int wal_shm_unmap(sqlite3_file* file, int delete_flag) {
  WalFile* f = wal(file);
  if (f->real->pMethods->iVersion < 2 || !f->real->pMethods->xShmUnmap) return SQLITE_OK;
  return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

int wal_fetch(sqlite3_file* file, sqlite3_int64 off, int amt, void** out) {
  WalFile* f = wal(file);
  *out = nullptr;
  if (f->real->pMethods->iVersion < 3 || !f->real->pMethods->xFetch) return SQLITE_OK;
  return settled<&sqlite3_io_methods::xFetch>(file, off, amt, out);
}

int wal_unfetch(sqlite3_file* file, sqlite3_int64 off, void* p) {
  WalFile* f = wal(file);
  if (f->real->pMethods->iVersion < 3 || !f->real->pMethods->xUnfetch) return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, off, p);
}

const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    settled<&sqlite3_io_methods::xRead, void*, int, sqlite3_int64>,
    wal_write,
    settled<&sqlite3_io_methods::xTruncate, sqlite3_int64>,
    settled<&sqlite3_io_methods::xSync, int>,
    settled<&sqlite3_io_methods::xFileSize, sqlite3_int64*>,
    settled<&sqlite3_io_methods::xLock, int>,
    settled<&sqlite3_io_methods::xUnlock, int>,
    settled<&sqlite3_io_methods::xCheckReservedLock, int*>,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  if (!(flags & SQLITE_OPEN_WAL)) {
    // Every other file is the default VFS's own, in the space SQLite allocated for ours (larger).
    return g_real->xOpen(g_real, name, file, flags, out_flags);
  }
  auto* f = reinterpret_cast<WalFile*>(file);
  f->base.pMethods = nullptr;
  auto* real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kWalFileBytes);
  std::memset(real, 0, static_cast<std::size_t>(g_real->szOsFile));
  const int rc = g_real->xOpen(g_real, name, real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (real->pMethods) real->pMethods->xClose(real);
    return rc;
  }
  new (f) WalFile{};
  f->real = real;
  f->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_real->xDelete(g_real, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_real->xAccess(g_real, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_real->xFullPathname(g_real, name, n, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_real->xDlOpen(g_real, name); }
void vfs_dl_error(sqlite3_vfs*, int n, char* out) { g_real->xDlError(g_real, n, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* sym))(void) {
  return g_real->xDlSym(g_real, handle, sym);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_real->xDlClose(g_real, handle); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_real->xRandomness(g_real, n, out); }
int vfs_sleep(sqlite3_vfs*, int us) { return g_real->xSleep(g_real, us); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_real->xCurrentTime(g_real, out); }
int vfs_get_last_error(sqlite3_vfs*, int n, char* out) {
  return g_real->xGetLastError ? g_real->xGetLastError(g_real, n, out) : 0;
}
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  if (g_real->iVersion >= 2 && g_real->xCurrentTimeInt64) return g_real->xCurrentTimeInt64(g_real, out);
  double days = 0;
  const int rc = g_real->xCurrentTime(g_real, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

sqlite3_vfs* register_vfs() {
  if (sqlite3_initialize() != SQLITE_OK) return nullptr;
  g_real = sqlite3_vfs_find(nullptr);
  if (!g_real) return nullptr;
  static sqlite3_vfs vfs{};
  vfs.iVersion = 2;
  vfs.szOsFile = static_cast<int>(kWalFileBytes) + g_real->szOsFile;
  vfs.mxPathname = g_real->mxPathname;
  vfs.zName = kVfsName;
  vfs.xOpen = vfs_open;
  vfs.xDelete = vfs_delete;
  vfs.xAccess = vfs_access;
  vfs.xFullPathname = vfs_full_pathname;
  vfs.xDlOpen = vfs_dl_open;
  vfs.xDlError = vfs_dl_error;
  vfs.xDlSym = vfs_dl_sym;
  vfs.xDlClose = vfs_dl_close;
  vfs.xRandomness = vfs_randomness;
  vfs.xSleep = vfs_sleep;
  vfs.xCurrentTime = vfs_current_time;
  vfs.xGetLastError = vfs_get_last_error;
  vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  if (sqlite3_vfs_register(&vfs, 0) != SQLITE_OK) return nullptr;
  return &vfs;
}

}  // namespace

const char* joined_wal_vfs() {
  static sqlite3_vfs* const vfs = register_vfs();
  return vfs ? vfs->zName : nullptr;
}

JoinedWalCounts joined_wal_counts() {
  return {g_writes.load(std::memory_order_relaxed), g_written.load(std::memory_order_relaxed)};
}

void fail_joined_wal_flushes_for_test(int n) { g_fail_flushes.store(n, std::memory_order_relaxed); }

}  // namespace spillway::telemetry
