/* summary.json read with jansson: a tree of values, read by key. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

wg_status wg_json_parse(const char *name, const char *text, wg_json **out) {
    json_error_t error;
    /* any value at the top, as RFC 8259 allows; no NUL inside strings (they are C strings) */
    *out = json_loads(text, JSON_DECODE_ANY, &error);
    if (*out) return WG_OK;
    if (json_error_code(&error) == json_error_out_of_memory)
        return wg_fail(WG_ERR_NOMEM, "out of memory reading %s", name);
    return wg_fail(WG_ERR_INVALID, "%s:%d:%d: %s", name, error.line, error.column, error.text);
}

void wg_json_free(wg_json *value) {
    json_decref(value);
}

const wg_json *wg_json_member(const wg_json *object, const char *key) {
    return json_object_get(object, key); /* NULL for NULL or a non-object */
}

const wg_json *wg_json_path(const wg_json *root, const char *path) {
    char part[256];
    const wg_json *v = root;
    while (v && *path) {
        size_t len = strcspn(path, ".");
        if (len >= sizeof part) return NULL;
        memcpy(part, path, len);
        part[len] = 0;
        v = wg_json_member(v, part);
        path += len + (path[len] == '.');
    }
    return v;
}

typedef struct queue {
    const json_t **items;
    size_t head, tail, cap;
} queue;

/* Appends v when it is a container; false when the queue cannot grow. */
static bool push(queue *q, const json_t *v) {
    if (!json_is_object(v) && !json_is_array(v)) return true;
    if (q->tail == q->cap) {
        size_t cap = q->cap ? 2 * q->cap : 16;
        const json_t **grown = realloc(q->items, cap * sizeof *grown);
        if (!grown) return false;
        q->items = grown;
        q->cap = cap;
    }
    q->items[q->tail++] = v;
    return true;
}

/* The containers directly inside v, in document order, onto the queue. */
static bool push_children(queue *q, json_t *v) {
    const char *key;
    size_t i;
    json_t *child;
    json_object_foreach(v, key, child) if (!push(q, child)) return false;
    json_array_foreach(v, i, child) if (!push(q, child)) return false;
    return true;
}

/* Breadth first: the shallowest member called `key` (a number, when asked). */
static const wg_json *find(const wg_json *root, const char *key, bool numbers_only) {
    queue q = {0};
    const json_t *found = NULL;
    if (!push(&q, root)) return NULL;
    while (q.head < q.tail && !found) {
        json_t *v = (json_t *)q.items[q.head++];
        const json_t *m = json_object_get(v, key);
        if (m && (!numbers_only || json_is_number(m)))
            found = m;
        else if (!push_children(&q, v))
            break;
    }
    free(q.items);
    return found;
}

const wg_json *wg_json_find(const wg_json *root, const char *key) {
    return find(root, key, false);
}

double wg_json_find_number(const wg_json *root, const char *key) {
    return wg_json_number(find(root, key, true));
}

double wg_json_number(const wg_json *v) {
    if (json_is_number(v)) return json_number_value(v);
    if (json_is_boolean(v)) return json_is_true(v) ? 1 : 0;
    return NAN;
}

const char *wg_json_string(const wg_json *v) {
    return json_string_value(v); /* NULL for NULL or a non-string */
}

int wg_json_length(const wg_json *v) {
    return json_is_array(v) ? (int)json_array_size(v) : -1;
}

const wg_json *wg_json_item(const wg_json *array, int i) {
    return i >= 0 ? json_array_get(array, (size_t)i) : NULL;
}
