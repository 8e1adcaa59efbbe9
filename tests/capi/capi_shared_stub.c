/* capi_shared_stub.c — the one source of the test-only shared libmoe.so of a static build (its code comes from the
 * whole libmoe.a archive). Before: libmoe.a; after: test_capi.py loads the library through ctypes. */
#include <moe/moe.h>

/* Referencing one entry point keeps the linker honest about the archive being present. */
moe_status (*const moe_capi_shared_anchor)(uint32_t) = moe_check_abi;
