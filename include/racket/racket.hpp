// SPDX-License-Identifier: MIT
#pragma once

// The umbrella header: every public header of Racket, and the `publisher` and `subscriber`
// aliases over real UDP multicast.

#include "racket/codec.hpp"
#include "racket/directory.hpp"
#include "racket/directory_options.hpp"
#include "racket/endpoint.hpp"
#include "racket/error.hpp"
#include "racket/message.hpp"
#include "racket/owned_message.hpp"
#include "racket/pool.hpp"
#include "racket/publisher.hpp"
#include "racket/publisher_options.hpp"
#include "racket/security/replay_window.hpp"
#include "racket/security/stream_key.hpp"
#include "racket/stream.hpp"
#include "racket/subject.hpp"
#include "racket/subscriber.hpp"
#include "racket/subscriber_options.hpp"
#include "racket/subscription.hpp"
#include "racket/subscription_index.hpp"
#include "racket/transport/concepts.hpp"
#include "racket/transport/interfaces.hpp"
#include "racket/transport/udp.hpp"
#include "racket/wire.hpp"

namespace racket {

/// A publisher over real UDP multicast, driven by an `asio::io_context`.
using publisher = basic_publisher<udp_transport>;
/// A subscriber over real UDP multicast, driven by an `asio::io_context`.
using subscriber = basic_subscriber<udp_transport>;
using directory = basic_directory<udp_transport>;

}  // namespace racket
