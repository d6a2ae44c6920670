#include "tokenizer/rank_data.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

// SPW_CL100K_FILE and SPW_O200K_FILE are absolute paths set by CMakeLists.txt, which pins their SHA-256 (so a
// cached object can never hold other data) and makes this file recompile when either changes.
#if !defined(SPW_CL100K_FILE) || !defined(SPW_O200K_FILE)
#error "SPW_CL100K_FILE and SPW_O200K_FILE must be defined"
#endif

#define SPW_EMBED(sym, file)              \
  __asm__(".section .rodata." #sym        \
          ",\"a\",@progbits\n"            \
          ".balign 16\n"                  \
          ".globl " #sym                  \
          "\n"                            \
          ".hidden " #sym                 \
          "\n"                            \
          ".type " #sym ",@object\n" #sym \
          ":\n"                           \
          ".incbin \"" file               \
          "\"\n"                          \
          ".globl " #sym                  \
          "_end\n"                        \
          ".hidden " #sym "_end\n" #sym   \
          "_end:\n"                       \
          ".byte 0\n"                     \
          ".previous\n")

SPW_EMBED(spw_tiktoken_cl100k, SPW_CL100K_FILE);
SPW_EMBED(spw_tiktoken_o200k, SPW_O200K_FILE);

extern "C" {
extern const char spw_tiktoken_cl100k[];
extern const char spw_tiktoken_cl100k_end[];
extern const char spw_tiktoken_o200k[];
extern const char spw_tiktoken_o200k_end[];
}

namespace spillway::tokenizer {

std::string_view embedded_rank_file(Encoding e) {
  if (e == Encoding::kCl100kBase) {
    return {spw_tiktoken_cl100k, static_cast<std::size_t>(spw_tiktoken_cl100k_end - spw_tiktoken_cl100k)};
  }
  return {spw_tiktoken_o200k, static_cast<std::size_t>(spw_tiktoken_o200k_end - spw_tiktoken_o200k)};
}

void release_embedded_rank_file(Encoding e) {
  const std::string_view data = embedded_rank_file(e);
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data.data()) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data.data()) + data.size()) & ~(page - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace spillway::tokenizer
