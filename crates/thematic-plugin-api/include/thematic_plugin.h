/*
 * thematic plugin ABI, version 2, for plugins written in C, C++ or Zig.
 * The same contract as the Rust crate thematic-plugin-api (see docs/plugins.md):
 * export `thematic_plugin_entry`, returning a static table whose first field
 * is THEMATIC_ABI_VERSION. Requests and responses are UTF-8 JSON; the plugin
 * allocates the response buffer and frees it in its own `free`.
 */
#ifndef THEMATIC_PLUGIN_H
#define THEMATIC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define THEMATIC_ABI_VERSION 2u
#define THEMATIC_KIND_CODING 1u
#define THEMATIC_KIND_THEMES 2u

#define THEMATIC_STATUS_OK 0
#define THEMATIC_STATUS_ERROR 1
#define THEMATIC_STATUS_PANIC 2

typedef struct {
    uint8_t *ptr;
    size_t len;
} thematic_buffer;

/* One call: `input` is a JSON request of `len` bytes, owned by the host
 * (a CodeRequest for `code`, a GroupRequest for `group`); write a buffer you
 * allocated to `output` (the JSON CodeResponse or GroupResponse for
 * THEMATIC_STATUS_OK, else a UTF-8 message). */
typedef int32_t (*thematic_call_fn)(const uint8_t *input, size_t len, thematic_buffer *output);

/* Releases a buffer this plugin returned. */
typedef void (*thematic_free_fn)(thematic_buffer buffer);

typedef struct {
    uint32_t abi_version; /* THEMATIC_ABI_VERSION: must stay the first field */
    const char *name;     /* static, NUL-terminated */
    uint32_t kinds;       /* THEMATIC_KIND_CODING | THEMATIC_KIND_THEMES */
    thematic_call_fn code;  /* codes one transcript; NULL if the plugin does not code */
    thematic_call_fn group; /* proposes themes; NULL if the plugin does not group */
    thematic_free_fn free;
} thematic_plugin_table;

/* The one symbol a plugin exports. */
const thematic_plugin_table *thematic_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif
