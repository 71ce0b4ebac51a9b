// Consumer test: uses Racket through add_subdirectory.
// SPDX-License-Identifier: MIT
#include "../consumer_check.hpp"

int main() { return racket_consumer_check(); }
