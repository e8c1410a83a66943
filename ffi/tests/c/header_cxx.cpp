// kled.h from C++: it must compile with -Wall -Wextra -Werror -pedantic,
// declare everything with C linkage (this links against libkled), and
// its enums must be usable as C++ types.
#include <kled.h>

#include <cstdio>
#include <cstring>

int main() {
    kled_status status = KLED_ERR_NULL_ARGUMENT;
    kled_state state = KLED_STATE_RUNNING;
    kled_event event = {};
    event.kind = KLED_EVENT_END;
    kled_buf buf = {nullptr, 0};
    kled_buf_free(&buf);
    static_assert(sizeof(kled_status) == 4, "kled_status is 32 bits");
    static_assert(KLED_ABI_VERSION >= 1, "ABI version");
    int failures = 0;
    failures += std::strcmp(kled_status_name(status), "null_argument") != 0;
    failures += std::strcmp(kled_version(), KLED_VERSION) != 0;
    failures += kled_abi_version() != KLED_ABI_VERSION;
    failures += kled_manager_new(nullptr, nullptr, nullptr) != KLED_ERR_NULL_ARGUMENT;
    failures += state != KLED_STATE_RUNNING || event.kind != KLED_EVENT_END;
    std::printf("header_cxx: %d passed, %d failed\n", 5 - failures, failures);
    return failures == 0 ? 0 : 1;
}
