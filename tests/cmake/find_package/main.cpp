// Consumer test: uses Racket through find_package.
// SPDX-License-Identifier: MIT
#include "../consumer_check.hpp"

int main() { return racket_consumer_check(); }
