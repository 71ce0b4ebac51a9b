// SPDX-License-Identifier: MIT
#pragma once

// `unique_function<R(Args...)>`: a move-only, type-erased callable, so that handlers which
// own move-only state (a unique_ptr, a promise, a coroutine's completion handler) can be
// stored where `std::function` would demand a copy (C++23's std::move_only_function, which
// C++20 lacks). The callable lives on the heap: its address is stable for as long as the
// unique_function that holds it, moves included. Knows nothing of who calls it or where.

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace racket::detail {

template <class F>
struct is_std_function : std::false_type {};
template <class S>
struct is_std_function<std::function<S>> : std::true_type {};

template <class Signature>
class unique_function;

template <class R, class... Args>
class unique_function<R(Args...)> {
 public:
  unique_function() noexcept = default;
  unique_function(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor): like std::function

  // Any callable invocable as R(Args...), copyable or not; an empty std::function (or a null
  // function pointer) gives an empty unique_function.
  template <class F>
    requires(!std::same_as<std::remove_cvref_t<F>, unique_function> && std::invocable<std::decay_t<F>&, Args...> &&
             (std::is_void_v<R> || std::convertible_to<std::invoke_result_t<std::decay_t<F>&, Args...>, R>))
  unique_function(F&& f)  // NOLINT(google-explicit-constructor): like std::function
  {
    using D = std::decay_t<F>;
    if constexpr (std::is_pointer_v<D> || std::is_member_pointer_v<D> || is_std_function<D>::value) {
      if (f == nullptr) return;
    }
    callable_ = std::make_unique<model<D>>(std::forward<F>(f));
  }

  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;
  unique_function(const unique_function&) = delete;
  unique_function& operator=(const unique_function&) = delete;
  template <class F>
    requires std::constructible_from<unique_function, F&&> && (!std::same_as<std::remove_cvref_t<F>, unique_function>)
  unique_function& operator=(F&& f) {
    unique_function(std::forward<F>(f)).swap(*this);
    return *this;
  }
  unique_function& operator=(std::nullptr_t) noexcept {
    callable_.reset();
    return *this;
  }
  ~unique_function() = default;

  explicit operator bool() const noexcept { return callable_ != nullptr; }

  // Precondition: not empty.
  R operator()(Args... args) const { return callable_->call(std::forward<Args>(args)...); }

  void swap(unique_function& o) noexcept { callable_.swap(o.callable_); }

 private:
  struct concept_base {
    virtual ~concept_base() = default;
    virtual R call(Args&&... args) = 0;
  };

  template <class F>
  struct model final : concept_base {
    template <class G>
    explicit model(G&& g) : f(std::forward<G>(g)) {}
    R call(Args&&... args) override {
      if constexpr (std::is_void_v<R>) {
        std::invoke(f, std::forward<Args>(args)...);
      } else {
        return std::invoke(f, std::forward<Args>(args)...);
      }
    }
    F f;
  };

  // The callable is logically part of the unique_function's value but calling it may change
  // it (a mutable lambda): operator() is const as std::function's is.
  std::unique_ptr<concept_base> callable_;
};

}  // namespace racket::detail
