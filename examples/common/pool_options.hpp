// Command-line pieces for programs that join several streams (the bridge): the pool, its
// port range and the interfaces, as add_network_options gives them (same flags, same
// environment defaults), without its single STREAM / --stream. Knows nothing of what the
// program does with them.
// SPDX-License-Identifier: MIT
#pragma once

#include "options.hpp"

namespace racket_examples {

/// Adds --pool, --ports and --interface (defaults from RACKET_POOL, RACKET_PORTS and
/// RACKET_INTERFACES) to `app`, into `o`. Resolve them with resolve_network once
/// `o.stream_name` is set (to any one of the program's streams).
inline void add_pool_options(CLI::App& app, network_options& o) {
  app.add_option("--pool", o.pool_prefix, "multicast pool prefix, IPv4 or IPv6")
      ->type_name("PREFIX")
      ->default_str(o.pool_prefix)
      ->envname("RACKET_POOL");
  app.add_option("--ports", o.ports, "UDP port range of the pool: FIRST-LAST or PORT")
      ->type_name("RANGE")
      ->default_str(o.ports)
      ->envname("RACKET_PORTS");
  app.add_option("-i,--interface", o.interfaces,
                 "network interface to use; repeatable, or comma-separated\n"
                 "(default: every interface that is up and can carry\n"
                 "multicast, loopback included)")
      ->type_name("NAME")
      ->delimiter(',')
      ->envname("RACKET_INTERFACES");
}

}  // namespace racket_examples
