/*
 * A thematic plugin in C: codes the first segment of a transcript with
 * `support` when the request mentions "supported". It proves the C header
 * against the host; a real plugin would parse the JSON request properly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "thematic_plugin.h"

static int32_t code(const uint8_t *input, size_t len, thematic_buffer *output) {
    char *request = malloc(len + 1);
    if (request == NULL) return THEMATIC_STATUS_ERROR;
    memcpy(request, input, len);
    request[len] = '\0';
    unsigned turn = 0;
    const char *at = strstr(request, "\"turn\":");
    if (at != NULL) sscanf(at + 7, "%u", &turn);
    int found = strstr(request, "supported") != NULL;
    free(request);

    char *response = malloc(128);
    if (response == NULL) return THEMATIC_STATUS_ERROR;
    if (found && turn > 0) {
        snprintf(response, 128, "{\"codings\":[{\"turn\":%u,\"code\":\"support\"}]}", turn);
    } else {
        snprintf(response, 128, "{\"codings\":[]}");
    }
    output->ptr = (uint8_t *)response;
    output->len = strlen(response);
    return THEMATIC_STATUS_OK;
}

static void release(thematic_buffer buffer) {
    free(buffer.ptr);
}

static const thematic_plugin_table table = {
    THEMATIC_ABI_VERSION, "c-support", THEMATIC_KIND_CODING, code, NULL, release,
};

const thematic_plugin_table *thematic_plugin_entry(void) {
    return &table;
}
