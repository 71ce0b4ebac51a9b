// Stream keys on the programs' command lines (docs/security.md): `--key-file PATH` (a file of
// 64 hexadecimal digits) seals the stream; `sender --gen-key` prints a fresh key. A key file
// that cannot be read or holds no valid key is a usage error naming the file, never its
// contents. Knows nothing of what the programs do with the ring.
// SPDX-License-Identifier: MIT
#pragma once

#include "options.hpp"

#include <racket/racket.hpp>
#include <racket/security/key_ring.hpp>

#include <CLI/CLI.hpp>

#include <array>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>

#if defined(RACKET_HAS_SODIUM) && RACKET_HAS_SODIUM
#include <sodium.h>
#endif

namespace racket_examples {

struct key_options {
  std::string key_file;  // --key-file
  bool gen_key = false;  // --gen-key (sender)
  racket::key_ring ring;  // of --key-file, for the program's stream (read_key_file)
};

/// Adds --key-file (and, with `gen_key`, --gen-key) to `app`.
inline void add_key_options(CLI::App& app, key_options& o, bool gen_key) {
  app.add_option("--key-file", o.key_file,
                 "seal the stream with the key in FILE (64 hex digits, e.g.\n"
                 "from sender --gen-key): only holders of the key read\n"
                 "it or publish on it (docs/security.md)")
      ->type_name("FILE")
      ->envname("RACKET_KEY_FILE");
  if (gen_key) app.add_flag("--gen-key", o.gen_key, "print a fresh random stream key (64 hex digits) and exit");
}

/// A fresh random key in its text form: from libsodium's generator where the programs have
/// it, else from std::random_device (the kernel's getrandom on Linux).
inline std::string fresh_key_hex() {
  std::array<std::byte, racket::stream_key::size> raw{};
#if defined(RACKET_HAS_SODIUM) && RACKET_HAS_SODIUM
  if (sodium_init() < 0) throw fatal_error("libsodium failed to initialise", exit_failure);
  randombytes_buf(raw.data(), raw.size());
#else
  std::random_device rd;
  for (std::size_t i = 0; i < raw.size(); i += 4) {
    const auto v = rd();
    for (std::size_t k = 0; k < 4; ++k) raw[i + k] = static_cast<std::byte>(v >> (8 * k));
  }
#endif
  return racket::stream_key::from_bytes(raw).to_hex();
}

/// Reads --key-file (if given) into `o.ring` for `stream`. Throws `fatal_error`.
inline void read_key_file(key_options& o, const std::string& stream) {
  racket::key_ring& ring = o.ring;
  if (o.key_file.empty()) return;
  std::ifstream in(o.key_file);
  if (!in) throw usage_error("key file " + racket_examples::quoted(o.key_file) + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  std::error_code ec;
  const racket::stream_key key = racket::stream_key::parse(text.str(), ec);
  if (ec) {
    try {
      (void)racket::stream_key::parse(text.str());  // for the message that says what is wrong
    } catch (const std::system_error& e) {
      throw usage_error("key file " + racket_examples::quoted(o.key_file) + ": " + e.what());
    }
  }
  ring.add(stream, key);
}

}  // namespace racket_examples
