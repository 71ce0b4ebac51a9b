// SPDX-License-Identifier: MIT
#pragma once

// Where a user's handler runs: on `asio::get_associated_executor(handler, strand)`. When
// that IS the subscriber's strand (the default), the handler is called inline from the
// strand's batch, on views into the datagram: the fast path. Otherwise its arguments are
// copied into owned form and the call is posted to that executor, still inside the
// subscription's call guard (subscription_entry.hpp), so `asio::bind_executor(other, h)` is
// honoured and unsubscribe still waits for it. Builds the type-erased handlers the engine
// stores; knows nothing of the engine's state or locks.

#include "racket/detail/subscriber/dispatcher.hpp"
#include "racket/detail/subscriber/subscription_entry.hpp"
#include "racket/detail/unique_function.hpp"
#include "racket/message.hpp"
#include "racket/owned_message.hpp"

#include <asio/associated_executor.hpp>
#include <asio/post.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace racket::detail {

// Whether `h` runs on `strand` (its associated executor, with the strand as the default, is
// the strand itself), so that it may be called inline there.
template <class Handler, class Strand>
bool runs_on_strand(const Handler& h, const Strand& strand) {
  if constexpr (std::is_same_v<asio::associated_executor_t<Handler, Strand>, Strand>) {
    return asio::get_associated_executor(h, strand) == strand;
  } else {
    return false;
  }
}

// The delivery of a subscription: decodes with Codec (on the strand), then calls `h`.
// `report(const subscription_entry&, std::string what)` hears of a posted call's exception
// (an inline call's is caught by the dispatcher).
template <class T, class Codec, class Handler, class Strand, class Report>
subscription_entry::deliver_function make_delivery(Handler h, const Strand& strand, Report report) {
  if (runs_on_strand(h, strand)) {
    return [h = std::move(h)](subscription_entry&, const delivery_record& r) mutable -> bool {
      std::error_code dec;
      T value = Codec::decode(r.payload, dec);
      if (dec) return false;
      const message<T> m{r.stream,       r.subject,    value,
                         r.payload,      r.publisher_id, r.sequence,
                         r.timestamp_ns, std::chrono::milliseconds(r.interval_ms), r.is_new,
                         r.resend};
      h(m);
      return true;
    };
  }
  auto ex = asio::get_associated_executor(h, strand);
  return [h = std::move(h), ex, report](subscription_entry& e, const delivery_record& r) mutable -> bool {
    std::error_code dec;
    T value = Codec::decode(r.payload, dec);
    if (dec) return false;
    // `&h` stays valid while the entry's handlers live, which the call guard ensures.
    asio::post(ex, [entry = e.shared_from_this(), hp = &h, report,
                    m = owned_message<T>{std::string(r.stream), std::string(r.subject), std::move(value),
                                         std::vector<std::byte>(r.payload.begin(), r.payload.end()),
                                         r.publisher_id, r.sequence, r.timestamp_ns,
                                         std::chrono::milliseconds(r.interval_ms), r.is_new, r.resend}] {
      const entry_call call(*entry);
      if (!call) return;
      try {
        (*hp)(m.view());
      } catch (...) {
        report(*entry, dispatcher::describe_handler_error(*entry));
      }
    });
    return true;
  };
}

template <class Removed, class Strand, class Report>
subscription_entry::removal_function make_removal(Removed h, const Strand& strand, Report report) {
  if (runs_on_strand(h, strand)) {
    return [h = std::move(h)](subscription_entry&, const removal& r) mutable { h(r); };
  }
  auto ex = asio::get_associated_executor(h, strand);
  return [h = std::move(h), ex, report](subscription_entry& e, const removal& r) mutable {
    asio::post(ex, [entry = e.shared_from_this(), hp = &h, report, stream = std::string(r.stream),
                    subject = std::string(r.subject), publisher_id = r.publisher_id, reason = r.reason] {
      const entry_call call(*entry);
      if (!call) return;
      try {
        (*hp)(removal{stream, subject, publisher_id, reason});
      } catch (...) {
        report(*entry, dispatcher::describe_handler_error(*entry));
      }
    });
  };
}

// The loss handler, on its executor (a throw is ignored, as inline).
template <class Handler, class Strand>
unique_function<void(const loss_event&)> make_loss_handler(Handler h, const Strand& strand) {
  if (runs_on_strand(h, strand)) return unique_function<void(const loss_event&)>(std::move(h));
  auto ex = asio::get_associated_executor(h, strand);
  return [hp = std::make_shared<Handler>(std::move(h)), ex](const loss_event& l) {
    asio::post(ex, [hp, stream = std::string(l.stream), l] {
      try {
        (*hp)(loss_event{stream, l.publisher_id, l.first, l.last});
      } catch (...) {
      }
    });
  };
}

// The error handler, on its executor (a throw is ignored, as inline).
template <class Handler, class Strand>
unique_function<void(const std::error_code&, std::string_view)> make_error_handler(Handler h, const Strand& strand) {
  if (runs_on_strand(h, strand)) return unique_function<void(const std::error_code&, std::string_view)>(std::move(h));
  auto ex = asio::get_associated_executor(h, strand);
  return [hp = std::make_shared<Handler>(std::move(h)), ex](const std::error_code& ec, std::string_view what) {
    asio::post(ex, [hp, ec, what = std::string(what)] {
      try {
        (*hp)(ec, what);
      } catch (...) {
      }
    });
  };
}

}  // namespace racket::detail
