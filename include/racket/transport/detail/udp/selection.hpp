// SPDX-License-Identifier: MIT
#pragma once

// One address family's selection in a udp_transport: whether it is open, the interfaces it
// uses (in selection order) and one send port per interface; opening and closing it. Called
// under the transport's mutex, and takes no lock itself. Knows nothing of receivers (a
// rescan, which joins and leaves them, is detail/udp/rescan.hpp).

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/send_port.hpp"
#include "racket/transport/interfaces.hpp"

#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail::udp {

struct family_state {
  bool open = false;
  std::vector<interface_info> interfaces;
  std::vector<std::shared_ptr<send_port>> ports;  // ports[i] sends on interfaces[i]

  // Opens a send port per interface of `selected` and makes it the selection. A port whose
  // options are refused is kept (reported); a socket that cannot be opened fails it all (ec),
  // leaving the family closed.
  void open_on(core& c, address_family family, std::vector<interface_info> selected, std::error_code& ec) {
    std::vector<std::shared_ptr<send_port>> opened;
    for (std::size_t i = 0; i < selected.size(); ++i) {
      std::error_code opt_ec;
      auto port = open_send_port(c, selected[i], family, ec, opt_ec);
      if (ec) return;
      if (opt_ec) c.report(opt_ec, port->name);
      opened.push_back(std::move(port));
    }
    interfaces = std::move(selected);
    ports = std::move(opened);
    open = true;
  }

  // Closes every send port (their backlogs are dropped) and forgets the selection.
  void close(const strand_type& strand) {
    for (auto& port : ports) close_send_port(strand, std::move(port));
    ports.clear();
    interfaces.clear();
    open = false;
  }
};

}  // namespace racket::detail::udp
