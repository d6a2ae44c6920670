#include "tokenizer/rank_data.h"

// Generated next to the blobs by spw_rank_gen: each defines the FNV-1a hash of its blob. Using the values
// here puts them into this file's preprocessed text, so a compiler cache never reuses an object that
// embedded another blob.
#include "cl100k_base_ranks.h"
#include "o200k_base_ranks.h"

// SPW_RANKS_DIR is the build directory holding the generated blobs (set by CMakeLists.txt, which makes this
// file recompile when they change).
#if !defined(SPW_RANKS_DIR) || !defined(SPW_RANKS_FNV_CL100K_BASE) || !defined(SPW_RANKS_FNV_O200K_BASE)
#error "SPW_RANKS_DIR and the generated rank headers are needed"
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

SPW_EMBED(spw_ranks_cl100k, SPW_RANKS_DIR "/cl100k_base.ranks");
SPW_EMBED(spw_ranks_o200k, SPW_RANKS_DIR "/o200k_base.ranks");

extern "C" {
extern const unsigned char spw_ranks_cl100k[];
extern const unsigned char spw_ranks_cl100k_end[];
extern const unsigned char spw_ranks_o200k[];
extern const unsigned char spw_ranks_o200k_end[];
}

namespace spillway::tokenizer {

std::span<const unsigned char> embedded_rank_blob(Encoding e) {
  if (e == Encoding::kCl100kBase) {
    return {spw_ranks_cl100k, static_cast<std::size_t>(spw_ranks_cl100k_end - spw_ranks_cl100k)};
  }
  return {spw_ranks_o200k, static_cast<std::size_t>(spw_ranks_o200k_end - spw_ranks_o200k)};
}

uint64_t embedded_rank_blob_fnv(Encoding e) {
  return e == Encoding::kCl100kBase ? SPW_RANKS_FNV_CL100K_BASE : SPW_RANKS_FNV_O200K_BASE;
}

}  // namespace spillway::tokenizer
