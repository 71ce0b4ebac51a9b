// Command-line parsing shared by the `sender` and `receiver` examples.
// SPDX-License-Identifier: MIT
#pragma once

#include <racket/racket.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace racket_examples {

/// Exit statuses of both programs.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;  // runtime failure, or --count not reached
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

/// One option, for --help and for the parser's lookup.
struct option_spec {
  std::string_view name;     ///< "--pool"
  std::string_view metavar;  ///< "PREFIX"; empty for a flag
  std::string_view help;     ///< one or more lines, '\n'-separated
};

/// Prints "Usage: ...", the description and every option, aligned, to `out`.
inline void print_help(std::FILE* out, std::string_view usage, std::string_view description,
                       const std::vector<option_spec>& specs, std::string_view epilogue) {
  std::fprintf(out, "Usage: %.*s\n\n%.*s\n\nOptions:\n", static_cast<int>(usage.size()), usage.data(),
               static_cast<int>(description.size()), description.data());
  std::size_t width = 0;
  for (const auto& s : specs) width = std::max(width, s.name.size() + (s.metavar.empty() ? 0 : s.metavar.size() + 1));
  for (const auto& s : specs) {
    std::string head(s.name);
    if (!s.metavar.empty()) {
      head += ' ';
      head += s.metavar;
    }
    std::string_view help = s.help;
    bool first = true;
    while (true) {
      const auto nl = help.find('\n');
      const auto line = help.substr(0, nl);
      std::fprintf(out, "  %-*s  %.*s\n", static_cast<int>(width), first ? head.c_str() : "",
                   static_cast<int>(line.size()), line.data());
      first = false;
      if (nl == std::string_view::npos) break;
      help.remove_prefix(nl + 1);
    }
  }
  if (!epilogue.empty()) std::fprintf(out, "\n%.*s\n", static_cast<int>(epilogue.size()), epilogue.data());
}

/// Walks argv: `--name VALUE`, `--name=VALUE`, flags `--name`, and `-h`.
/// Every option must be one of `specs`; anything else is a usage error.
class arg_reader {
 public:
  arg_reader(int argc, char** argv, const std::vector<option_spec>& specs) : specs_(specs) {
    for (int i = 1; i < argc; ++i) args_.emplace_back(argv[i]);
  }

  /// Moves to the next option and returns its name ("--pool"); false when none is left.
  bool next(std::string_view& name) {
    if (pos_ >= args_.size()) return false;
    std::string_view arg = args_[pos_++];
    inline_value_.reset();
    if (arg == "-h") arg = "--help";
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      throw usage_error("unexpected argument " + quoted(arg) + " (see --help)");
    }
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      inline_value_ = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    current_ = find(arg);
    if (current_ == nullptr) throw usage_error("unknown option " + quoted(arg) + " (see --help)");
    if (current_->metavar.empty() && inline_value_) {
      throw usage_error("option " + std::string(current_->name) + " takes no value");
    }
    name = current_->name;
    return true;
  }

  /// The current option's value (inline after '=' or the next argument).
  std::string value() {
    if (inline_value_) return *inline_value_;
    if (pos_ >= args_.size()) {
      throw usage_error("option " + std::string(current_->name) + " needs a value (" +
                        std::string(current_->metavar) + ")");
    }
    return args_[pos_++];
  }

  /// The current option's value as a whole number in [min, max].
  std::uint64_t number(std::uint64_t min, std::uint64_t max) {
    const std::string text = value();
    std::uint64_t v = 0;
    const auto* first = text.data();
    const auto* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, v);
    if (text.empty() || ec != std::errc{} || ptr != last || v < min || v > max) {
      throw usage_error(std::string(current_->name) + " " + quoted(text) + ": expected a whole number from " +
                        std::to_string(min) + " to " + std::to_string(max));
    }
    return v;
  }

  /// The current option's value as a positive decimal number (e.g. a rate).
  double positive_real() {
    const std::string text = value();
    double v = 0;
    const auto* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), last, v);
    if (text.empty() || ec != std::errc{} || ptr != last || !(v > 0) ||
        v > std::numeric_limits<double>::max()) {
      throw usage_error(std::string(current_->name) + " " + quoted(text) + ": expected a positive number");
    }
    return v;
  }

 private:
  const option_spec* find(std::string_view name) const {
    for (const auto& s : specs_) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  const std::vector<option_spec>& specs_;
  std::vector<std::string> args_;
  std::size_t pos_ = 0;
  const option_spec* current_ = nullptr;
  std::optional<std::string> inline_value_;
};

/// Options both programs share: where the stream lives and which interfaces carry it.
struct network_options {
  std::string pool_prefix = "239.255.0.0/16";
  std::string ports = "19090-19097";
  std::vector<std::string> interfaces;
  std::string stream_name;
  bool stream_given = false;
};

/// The --help entries of `network_options`.
inline std::vector<option_spec> network_option_specs() {
  return {
      {"--pool", "PREFIX", "multicast pool prefix, IPv4 or IPv6 (default 239.255.0.0/16)"},
      {"--ports", "RANGE", "UDP port range of the pool: FIRST-LAST or PORT (default 19090-19097)"},
      {"--interface", "NAME", "network interface to use; repeatable (default: every interface\n"
                              "that is up and can carry multicast, loopback included)"},
      {"--stream", "NAME", "stream name (required); it picks the group and port in the pool"},
  };
}

/// Consumes `name` if it is one of the network options; false otherwise.
inline bool read_network_option(std::string_view name, arg_reader& args, network_options& out) {
  if (name == "--pool") {
    out.pool_prefix = args.value();
  } else if (name == "--ports") {
    out.ports = args.value();
  } else if (name == "--interface") {
    out.interfaces.push_back(args.value());
  } else if (name == "--stream") {
    out.stream_name = args.value();
    out.stream_given = true;
  } else {
    return false;
  }
  return true;
}

/// What the network options resolve to: the pool, the stream's endpoint and the interfaces.
struct network_setup {
  racket::multicast_pool pool;
  racket::endpoint endpoint;
  std::vector<racket::interface_info> interfaces;
};

/// Checks the network options with the library's own rules, so a bad value is reported before
/// anything is opened, as one line naming it. Throws `fatal_error`.
inline network_setup resolve_network(const network_options& opts) {
  network_setup out;
  if (!opts.stream_given) throw usage_error("option --stream is required (see --help)");
  std::error_code ec;
  out.pool = racket::multicast_pool::parse(opts.pool_prefix, opts.ports, ec);
  if (ec == racket::errc::invalid_port_range) {
    throw usage_error(describe("multicast pool port range " + quoted(opts.ports), ec));
  }
  if (ec) throw usage_error(describe("multicast pool " + quoted(opts.pool_prefix), ec));
  out.endpoint = out.pool.endpoint_for(opts.stream_name, ec);
  if (ec) throw usage_error(describe("stream name " + quoted(opts.stream_name), ec));
  const auto family = out.pool.is_v4() ? racket::address_family::v4 : racket::address_family::v6;
  // Unknown names first, one by one, so the error names the bad one.
  const auto all = racket::list_interfaces(ec);
  if (ec) throw fatal_error(describe("listing network interfaces", ec), exit_failure);
  for (const auto& name : opts.interfaces) {
    bool known = false;
    for (const auto& i : all) known = known || i.name == name;
    if (!known) {
      throw usage_error(describe("interface " + quoted(name), make_error_code(racket::errc::unknown_interface)));
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

}  // namespace racket_examples
