// SPDX-License-Identifier: MIT
#pragma once

// What a rescan does to one family of a udp_transport: re-runs the interface selection, closes
// the send ports of the interfaces that are gone and leaves their groups, opens ports on new
// ones and joins every receiver's group there (also on a kept one that became usable), counts
// each change, and hands the receivers the new order. Called under the transport's mutex, and
// takes no lock itself; failures are collected for the caller to report once it has released
// the mutex. The rescan timer is the transport's.

#include "racket/transport/concepts.hpp"
#include "racket/transport/detail/interface_diff.hpp"
#include "racket/transport/detail/udp/core.hpp"
#include "racket/transport/detail/udp/receiver.hpp"
#include "racket/transport/detail/udp/selection.hpp"
#include "racket/transport/detail/udp/send_port.hpp"
#include "racket/transport/interfaces.hpp"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace racket::detail::udp {

// Failures to report after the mutex is released: (error, interface name or "").
using deferred_reports = std::vector<std::pair<std::error_code, std::string>>;

// Joins every receiver of `family` not yet joined on `itf`; the last failure (if any) is
// reported once for the interface.
inline void join_all(core& c, receiver_map& receivers, address_family family, const interface_info& itf,
                     deferred_reports& reports) {
  std::error_code last;
  for (auto& [id, r] : receivers) {
    if (r->family != family || r->closed) continue;
    if (std::find(r->joined.begin(), r->joined.end(), itf.index) != r->joined.end()) continue;
    std::error_code je;
    if (!r->join(itf.index, je)) {
      ++c.stats.join_errors;
      last = je;
    }
  }
  if (last) reports.emplace_back(last, itf.name);
}

// Leaves every receiver's group of `family` on `ifindex` (errors ignored: see receiver::leave).
inline void leave_all(receiver_map& receivers, address_family family, unsigned ifindex) {
  for (auto& [id, r] : receivers)
    if (r->family == family) r->leave(ifindex);
}

inline void rescan_family(core& c, family_state& fs, address_family family, receiver_map& receivers,
                          deferred_reports& reports) {
  std::error_code ec;
  const std::vector<interface_info> all = list_interfaces(ec);
  if (ec) {
    reports.emplace_back(ec, "");
    return;
  }
  // As `select_interfaces`: the named ones, in the order named, down ones included (their
  // failures are reported); missing ones are left out until they exist.
  std::vector<interface_info> target = choose_interfaces(all, c.options.interfaces, family).chosen;
  const interface_diff diff = diff_interfaces(fs.interfaces, target);

  for (const std::size_t i : diff.removed) {
    close_send_port(c.strand, fs.ports[i]);  // a pending flush sees it and stops
    leave_all(receivers, family, fs.interfaces[i].index);
    ++c.stats.interfaces_removed;
  }

  std::vector<interface_info> kept;
  std::vector<std::shared_ptr<send_port>> ports;
  for (std::size_t k = 0; k < target.size(); ++k) {
    interface_info& t = target[k];
    if (const std::size_t was = diff.previous[k]; was != interface_diff::none) {
      // A named interface that was down (or had no address) and now works: join it now.
      if (became_usable(fs.interfaces[was], t, family)) join_all(c, receivers, family, t, reports);
      ports.push_back(fs.ports[was]);
      kept.push_back(std::move(t));
      continue;
    }
    std::error_code e;
    std::error_code opt_ec;
    auto port = open_send_port(c, t, family, e, opt_ec);
    if (e) {  // e.g. out of descriptors: left out, tried again at the next rescan
      reports.emplace_back(e, t.name);
      continue;
    }
    const std::size_t before = reports.size();
    if (can_carry_multicast(t, family)) join_all(c, receivers, family, t, reports);
    if (opt_ec && reports.size() == before) reports.emplace_back(opt_ec, t.name);
    ++c.stats.interfaces_added;
    ports.push_back(std::move(port));
    kept.push_back(std::move(t));
  }
  fs.interfaces = std::move(kept);
  fs.ports = std::move(ports);
  for (auto& [id, r] : receivers)
    if (r->family == family) r->set_positions(fs.interfaces);
}

}  // namespace racket::detail::udp
