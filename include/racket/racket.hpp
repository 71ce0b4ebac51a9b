// Racket: broker-less publish/subscribe over IP multicast. Umbrella header.
// SPDX-License-Identifier: MIT
#pragma once

#include "racket/error.hpp"
#include "racket/endpoint.hpp"
#include "racket/transport/concepts.hpp"
