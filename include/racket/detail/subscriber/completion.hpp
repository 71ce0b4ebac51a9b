// SPDX-License-Identifier: MIT
#pragma once

// How the subscriber's asynchronous operations (async_close, async_fetch,
// subscription::async_unsubscribe) complete their handler: posted to the handler's associated
// executor (the subscriber's strand unless it names one), never run inline in the caller,
// with work kept outstanding on that executor until it has run. A private equivalent of the
// shared detail/completion.hpp (`complete_later`), which was not on main when this was
// written: the name differs so that both may be included together. Knows nothing of what
// completes.

#include <asio/associated_executor.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <tuple>
#include <type_traits>
#include <utility>

namespace racket::detail {

template <class Handler, class Executor, class... Args>
void post_completion(Handler&& handler, const Executor& fallback, Args&&... args) {
  auto ex = asio::get_associated_executor(handler, fallback);
  auto work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
  asio::post(ex, [h = std::forward<Handler>(handler), work = std::move(work),
                  args = std::make_tuple(std::decay_t<Args>(std::forward<Args>(args))...)]() mutable {
    std::apply(std::move(h), std::move(args));
  });
}

}  // namespace racket::detail
