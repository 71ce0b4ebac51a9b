// Command-line pieces shared by the example programs (sender, receiver, monitor, bridge), over
// CLI11: the options they have in common (pool, ports, interfaces and stream, with defaults
// from RACKET_POOL, RACKET_PORTS and RACKET_INTERFACES; --format, --stats, --ttl, ...),
// durations with units, number checks that name the bad value, the one way every program ends
// on a bad command line (one line on stderr, exit status 2) or on an error (run_program), and
// the timer behind --stats (repeat_every).
// SPDX-License-Identifier: MIT
#pragma once

#include <racket/racket.hpp>

#include <asio/steady_timer.hpp>

#include <CLI/CLI.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <variant>
#include <vector>

#ifndef RACKET_EXAMPLES_VERSION
#define RACKET_EXAMPLES_VERSION "unknown"
#endif

namespace racket_examples {

/// Exit statuses of the programs.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // runtime failure, --count not reached, --once got nothing
inline constexpr int exit_usage = 2;    // bad command line

/// An error that ends the program: printed as one line "PROGRAM: MESSAGE", then exit `status`.
class fatal_error : public std::runtime_error {
 public:
  fatal_error(const std::string& message, int status) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

/// A bad command line (exit status 2).
inline fatal_error usage_error(const std::string& message) { return {message, exit_usage}; }

/// "CONTEXT: MESSAGE-OF-EC", the library's error wording.
inline std::string describe(const std::string& context, std::error_code ec) {
  return context + ": " + ec.message();
}

/// Quotes a command-line value for an error message (the library's escaper).
inline std::string quoted(std::string_view text) { return racket::detail::quoted(text); }

// ---------------------------------------------------------------------------------------------
// Durations: "250ms", "2s", "1.5s", "1m", "1h", "500us"; a bare number is in the flag's own
// unit (milliseconds for every duration flag but --busy-poll, which counts microseconds).

/// The unit a bare number of a duration flag is in.
enum class bare_unit { milliseconds, microseconds };

/// `text` as a whole number of `unit`s, or an error message naming what was expected.
inline std::optional<std::uint64_t> parse_duration(std::string_view text, bare_unit unit, std::string& error) {
  const bool micro = unit == bare_unit::microseconds;
  error = racket_examples::quoted(text) + ": expected a duration such as 250ms, 2s or 1m (a bare number is " +
          (micro ? "microseconds" : "milliseconds") + ")";
  double value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(first, last, value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc{} || ptr == first || !(value >= 0) || std::isinf(value)) return std::nullopt;
  const std::string_view suffix(ptr, static_cast<std::size_t>(last - ptr));
  double us_per = 0;  // microseconds per unit
  if (suffix.empty()) {
    us_per = micro ? 1 : 1000;
  } else if (suffix == "us") {
    us_per = 1;
  } else if (suffix == "ms") {
    us_per = 1000;
  } else if (suffix == "s") {
    us_per = 1e6;
  } else if (suffix == "m") {
    us_per = 60e6;
  } else if (suffix == "h") {
    us_per = 3600e6;
  } else {
    return std::nullopt;
  }
  const double target = value * us_per / (micro ? 1 : 1000);
  if (target > 9e15) {
    error = racket_examples::quoted(text) + ": too long";
    return std::nullopt;
  }
  const double whole = std::round(target);
  if (std::abs(target - whole) > 1e-6) {
    error = racket_examples::quoted(text) + ": not a whole number of " + (micro ? "microseconds" : "milliseconds");
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(whole);
}

/// A CLI11 transformer for a duration flag bound to an integer: turns "2s" into "2000" (for a
/// milliseconds flag) and checks it is in [min, max] (in the flag's unit).
inline CLI::Validator duration(bare_unit unit, std::uint64_t min, std::uint64_t max) {
  return CLI::Validator(
      [unit, min, max](std::string& text) -> std::string {
        std::string error;
        const auto v = parse_duration(text, unit, error);
        if (!v) return error;
        const char* u = unit == bare_unit::microseconds ? "us" : "ms";
        if (*v < min || *v > max) {
          return racket_examples::quoted(text) + ": expected a duration from " + std::to_string(min) + u + " to " +
                 std::to_string(max) + u;
        }
        text = std::to_string(*v);
        return {};
      },
      "", "duration");
}

/// A CLI11 check: a whole number in [min, max].
inline CLI::Validator whole_number(std::uint64_t min, std::uint64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::uint64_t v = 0;
        const char* last = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), last, v);
        if (text.empty() || ec != std::errc{} || ptr != last || v < min || v > max) {
          return racket_examples::quoted(text) + ": expected a whole number from " + std::to_string(min) + " to " +
                 std::to_string(max);
        }
        return {};
      },
      "", "whole number");
}

/// A CLI11 check: a positive decimal number (a rate).
inline CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double v = 0;
        const char* last = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), last, v);
        if (text.empty() || ec != std::errc{} || ptr != last || !(v > 0) || std::isinf(v)) {
          return racket_examples::quoted(text) + ": expected a positive number";
        }
        return {};
      },
      "", "positive number");
}

// ---------------------------------------------------------------------------------------------
// The command line of both programs.

/// A CLI11 app with the programs' habits: `-h,--help`, `-V,--version`, aligned help.
inline void setup_app(CLI::App& app, const std::string& program) {
  app.set_help_flag("-h,--help", "show this help and exit");
  app.set_version_flag("-V,--version", program + " (Racket) " RACKET_EXAMPLES_VERSION, "show the version and exit");
  app.get_formatter()->column_width(34);
  app.get_formatter()->label("Env", "env");
  app.option_defaults()->always_capture_default(false);
}

/// Parses the command line. Returns the exit status when the program should end now (help or
/// version printed: 0; a bad command line: one line "PROGRAM: ..." on stderr, 2), else nullopt.
inline std::optional<int> parse_command_line(CLI::App& app, const std::string& program, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return exit_ok;
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return exit_ok;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", program.c_str(), e.what());
    return exit_usage;
  }
  return std::nullopt;
}

/// Options every program shares: where the stream lives and which interfaces carry it.
struct network_options {
  std::string pool_prefix = "239.255.0.0/16";
  std::string ports = "19090-19097";
  std::vector<std::string> interfaces;
  std::string stream_flag;        // --stream
  std::string stream_positional;  // STREAM
  std::string stream_name;        // whichever was given (resolve_network)
};

/// Adds --pool, --ports and --interface (defaults from RACKET_POOL, RACKET_PORTS and
/// RACKET_INTERFACES) to `app`, into `o`: what every program takes, also those that join
/// several streams (monitor, bridge). Resolve them with resolve_network once `o.stream_name`
/// is set (to any one of the program's streams).
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

/// Adds STREAM / --stream and the pool options to `app` (sender, receiver: one stream).
inline void add_network_options(CLI::App& app, network_options& o) {
  app.add_option("STREAM", o.stream_positional, "stream name (or --stream): it picks the group and port in the pool")
      ->type_name("");
  add_pool_options(app, o);
  app.add_option("-s,--stream", o.stream_flag, "stream name (or the first positional argument)")->type_name("NAME");
}

/// What the network options resolve to: the pool, the stream's endpoint and the interfaces.
struct network_setup {
  racket::multicast_pool pool;
  racket::endpoint endpoint;
  std::vector<racket::interface_info> interfaces;
};

/// The stream name, from --stream or STREAM (not both). Throws `fatal_error`.
inline std::string stream_name(const CLI::App& app, const network_options& opts) {
  const bool flag = app.count("--stream") != 0;
  const bool positional = app.count("STREAM") != 0;
  if (flag && positional) {
    throw usage_error("the stream is given twice: --stream " + racket_examples::quoted(opts.stream_flag) + " and " +
                      racket_examples::quoted(opts.stream_positional) + " (see --help)");
  }
  if (!flag && !positional) throw usage_error("a stream is required: STREAM or --stream NAME (see --help)");
  return flag ? opts.stream_flag : opts.stream_positional;
}

/// Checks the network options with the library's own rules, so a bad value is reported before
/// anything is opened, as one line naming it. `opts.stream_name` must be set. Throws `fatal_error`.
inline network_setup resolve_network(const network_options& opts) {
  network_setup out;
  std::error_code ec;
  out.pool = racket::multicast_pool::parse(opts.pool_prefix, opts.ports, ec);
  if (ec == racket::errc::invalid_port_range) {
    throw usage_error(describe("multicast pool port range " + racket_examples::quoted(opts.ports), ec));
  }
  if (ec) throw usage_error(describe("multicast pool " + racket_examples::quoted(opts.pool_prefix), ec));
  out.endpoint = out.pool.endpoint_for(opts.stream_name, ec);
  if (ec) throw usage_error(describe("stream name " + racket_examples::quoted(opts.stream_name), ec));
  const auto family = out.pool.is_v4() ? racket::address_family::v4 : racket::address_family::v6;
  // Unknown names first, one by one, so the error names the bad one.
  const auto all = racket::list_interfaces(ec);
  if (ec) throw fatal_error(describe("listing network interfaces", ec), exit_failure);
  for (const auto& name : opts.interfaces) {
    bool known = false;
    for (const auto& i : all) known = known || i.name == name;
    if (!known) {
      throw usage_error(describe("interface " + racket_examples::quoted(name), make_error_code(racket::errc::unknown_interface)));
    }
  }
  out.interfaces = racket::select_interfaces(opts.interfaces, family, ec);
  if (ec) {
    std::string what = out.pool.is_v4() ? "IPv4" : "IPv6";
    what += opts.interfaces.empty() ? " interfaces" : " on the named interfaces";
    throw fatal_error(describe(what, ec), exit_failure);
  }
  return out;
}

/// "lo,eth1" for a banner.
inline std::string interface_names(const std::vector<racket::interface_info>& interfaces) {
  std::string out;
  for (const auto& i : interfaces) {
    if (!out.empty()) out += ',';
    out += i.name;
  }
  return out;
}

/// "'a', 'b'": each item quoted, for a banner or a hint.
inline std::string quoted_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + racket_examples::quoted(item);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Options several programs take, each with its program's help text.

/// --format human|json (default human) into `text`.
inline void add_format_option(CLI::App& app, std::string& text, const std::string& help) {
  app.add_option("--format", text, help)
      ->type_name("human|json")
      ->default_str("human")
      ->check(CLI::IsMember({"human", "json"}).description(""));
}

/// --stats DURATION (milliseconds; not given: 0).
inline void add_stats_option(CLI::App& app, std::uint64_t& ms, const std::string& help) {
  app.add_option("--stats", ms, help)
      ->type_name("DURATION")
      ->transform(duration(bare_unit::milliseconds, 1, std::uint64_t{1} << 40));
}

/// --announce-period DURATION (milliseconds, default 5s, at least `min_ms`).
inline void add_announce_option(CLI::App& app, std::uint64_t& ms, const std::string& help, std::uint64_t min_ms) {
  app.add_option("--announce-period", ms, help)
      ->type_name("DURATION")
      ->default_str("5s")
      ->transform(duration(bare_unit::milliseconds, min_ms, 86'400'000));
}

/// --ttl N, 0..255 (default 1).
inline void add_ttl_option(CLI::App& app, int& ttl, const std::string& help) {
  app.add_option("--ttl", ttl, help)->type_name("N")->default_str("1")->check(whole_number(0, 255));
}

/// --max-message BYTES, 1 to the library's limit (64 MiB); the default shown is `bytes`.
inline void add_max_message_option(CLI::App& app, std::uint64_t& bytes, const std::string& help) {
  app.add_option("--max-message", bytes, help)
      ->type_name("BYTES")
      ->default_str(std::to_string(bytes))
      ->check(whole_number(1, racket::wire::max_message_size_limit));
}

/// --expiry-factor N (default 3).
inline void add_expiry_factor_option(CLI::App& app, unsigned& n) {
  app.add_option("--expiry-factor", n, "a subject not refreshed within N resend intervals expires")
      ->type_name("N")
      ->default_str("3")
      ->check(whole_number(1, 1000000));
}

// ---------------------------------------------------------------------------------------------
// Running.

/// A program's main: `parse(argc, argv)` returns the options (a std::variant<Options, int>
/// holding the exit status instead when the program ends now: --help, --version, a bad command
/// line), then `body(options)` runs the program and returns its exit status. An exception is
/// one line "PROGRAM: MESSAGE" on stderr and the exit status of a `fatal_error`, else 1.
template <class Parse, class Body>
int run_program(std::string_view program, int argc, char** argv, Parse parse, Body body) {
  try {
    auto parsed = parse(argc, argv);
    if (const int* status = std::get_if<int>(&parsed)) return *status;
    return body(std::as_const(std::get<0>(parsed)));
  } catch (const fatal_error& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return e.status();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(program.size()), program.data(), e.what());
    return exit_failure;
  }
}

/// Calls `tick()` every `period` on `timer` (--stats), until the timer is cancelled or
/// `tick()` returns false.
template <class Tick>
void repeat_every(asio::steady_timer& timer, std::chrono::milliseconds period, Tick tick) {
  timer.expires_after(period);
  timer.async_wait([&timer, period, tick = std::move(tick)](const std::error_code& ec) mutable {
    if (ec || !tick()) return;
    repeat_every(timer, period, std::move(tick));
  });
}

}  // namespace racket_examples
