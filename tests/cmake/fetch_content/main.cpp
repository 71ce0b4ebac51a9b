// Consumer test: uses Racket through fetch_content.
// SPDX-License-Identifier: MIT
#include "../consumer_check.hpp"

int main() { return racket_consumer_check(); }
