/* A small JSON reader (RFC 8259) for summary.json: a tree of values, read by key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *name;
    const char *text, *p;
    wg_status status;
} parser;

static wg_json *fail_at(parser *ps, const char *what) {
    if (ps->status != WG_OK) return NULL;
    int line = 1, col = 1;
    for (const char *q = ps->text; q < ps->p; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    ps->status = wg_fail(WG_ERR_INVALID, "%s:%d:%d: %s", ps->name, line, col, what);
    return NULL;
}

static wg_json *no_memory(parser *ps) {
    if (ps->status == WG_OK)
        ps->status = wg_fail(WG_ERR_NOMEM, "out of memory reading %s", ps->name);
    return NULL;
}

static void skip_space(parser *ps) {
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

static wg_json *new_value(parser *ps, wg_json_type type) {
    wg_json *v = calloc(1, sizeof *v);
    if (!v) return no_memory(ps);
    v->type = type;
    return v;
}

static int hex4(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static void put_utf8(wg_buf *b, unsigned cp) {
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp, n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12), u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18), u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)), u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    wg_buf_append(b, u, n);
}

/* A string literal at ps->p (the opening quote); the caller owns the result. */
static char *parse_string(parser *ps) {
    wg_buf b = {0};
    wg_buf_append(&b, "", 0);
    ps->p++;
    for (;;) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            break;
        }
        if (!c) {
            wg_buf_free(&b);
            fail_at(ps, "unterminated string");
            return NULL;
        }
        if (c < 0x20) {
            wg_buf_free(&b);
            fail_at(ps, "control character in a string");
            return NULL;
        }
        if (c != '\\') {
            wg_buf_append(&b, ps->p++, 1);
            continue;
        }
        char e = ps->p[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char out[] = "\"\\/\b\f\n\r\t";
            wg_buf_append(&b, &out[simple - "\"\\/bfnrt"], 1);
            ps->p += 2;
            continue;
        }
        unsigned cp, low;
        if (e != 'u' || !hex4(ps->p + 2, &cp)) {
            wg_buf_free(&b);
            fail_at(ps, "invalid escape in a string");
            return NULL;
        }
        ps->p += 6;
        if (cp >= 0xd800 && cp < 0xdc00 && ps->p[0] == '\\' && ps->p[1] == 'u' &&
            hex4(ps->p + 2, &low) && low >= 0xdc00 && low < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            ps->p += 6;
        } else if (cp >= 0xd800 && cp < 0xe000) {
            cp = 0xfffd; /* an unpaired surrogate */
        }
        put_utf8(&b, cp);
    }
    if (b.failed) {
        wg_buf_free(&b);
        no_memory(ps);
        return NULL;
    }
    return b.data;
}

static wg_json *parse_value(parser *ps, int depth);

static int append_item(parser *ps, wg_json *parent, char *key, wg_json *item) {
    wg_json **items = realloc(parent->items, (size_t)(parent->n + 1) * sizeof *items);
    if (items) parent->items = items;
    char **keys = parent->type == WG_JSON_OBJECT
                      ? realloc(parent->keys, (size_t)(parent->n + 1) * sizeof *keys)
                      : parent->keys;
    if (keys) parent->keys = keys;
    if (!items || (parent->type == WG_JSON_OBJECT && !keys)) {
        free(key);
        wg_json_free(item);
        no_memory(ps);
        return 0;
    }
    if (parent->type == WG_JSON_OBJECT) parent->keys[parent->n] = key;
    parent->items[parent->n++] = item;
    return 1;
}

static wg_json *parse_container(parser *ps, int depth, wg_json_type type) {
    if (depth >= MAX_DEPTH) return fail_at(ps, "nested too deeply");
    char close = type == WG_JSON_OBJECT ? '}' : ']';
    wg_json *v = new_value(ps, type);
    if (!v) return NULL;
    ps->p++;
    skip_space(ps);
    if (*ps->p == close) {
        ps->p++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_space(ps);
        if (type == WG_JSON_OBJECT) {
            if (*ps->p != '"') {
                fail_at(ps, "expected a member name in quotes");
                break;
            }
            if (!(key = parse_string(ps))) break;
            skip_space(ps);
            if (*ps->p != ':') {
                free(key);
                fail_at(ps, "expected ':' after a member name");
                break;
            }
            ps->p++;
        }
        wg_json *item = parse_value(ps, depth + 1);
        if (!item) {
            free(key);
            break;
        }
        if (!append_item(ps, v, key, item)) break;
        skip_space(ps);
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            return v;
        }
        fail_at(ps, type == WG_JSON_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    wg_json_free(v);
    return NULL;
}

static wg_json *parse_number(parser *ps) {
    const char *s = ps->p;
    /* the JSON grammar, which is stricter than strtod */
    if (*s == '-') s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9') s++;
    else
        return fail_at(ps, "invalid value");
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return fail_at(ps, "invalid number");
        while (*s >= '0' && *s <= '9') s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return fail_at(ps, "invalid number");
        while (*s >= '0' && *s <= '9') s++;
    }
    wg_json *v = new_value(ps, WG_JSON_NUMBER);
    if (!v) return NULL;
    v->number = strtod(ps->p, NULL);
    ps->p = s;
    return v;
}

static wg_json *parse_word(parser *ps, const char *word, wg_json_type type, bool boolean) {
    if (strncmp(ps->p, word, strlen(word)) != 0) return fail_at(ps, "invalid value");
    ps->p += strlen(word);
    wg_json *v = new_value(ps, type);
    if (v) v->boolean = boolean;
    return v;
}

static wg_json *parse_value(parser *ps, int depth) {
    skip_space(ps);
    switch (*ps->p) {
    case '{': return parse_container(ps, depth, WG_JSON_OBJECT);
    case '[': return parse_container(ps, depth, WG_JSON_ARRAY);
    case '"': {
        char *text = parse_string(ps);
        if (!text) return NULL;
        wg_json *v = new_value(ps, WG_JSON_STRING);
        if (!v) {
            free(text);
            return NULL;
        }
        v->string = text;
        return v;
    }
    case 't': return parse_word(ps, "true", WG_JSON_BOOL, true);
    case 'f': return parse_word(ps, "false", WG_JSON_BOOL, false);
    case 'n': return parse_word(ps, "null", WG_JSON_NULL, false);
    case 0: return fail_at(ps, "unexpected end of the text");
    default: return parse_number(ps);
    }
}

wg_status wg_json_parse(const char *name, const char *text, wg_json **out) {
    *out = NULL;
    parser ps = {name, text, text, WG_OK};
    wg_json *v = parse_value(&ps, 0);
    if (v) {
        skip_space(&ps);
        if (*ps.p) {
            fail_at(&ps, "text after the value");
            wg_json_free(v);
            v = NULL;
        }
    }
    if (!v) return ps.status;
    *out = v;
    return WG_OK;
}

void wg_json_free(wg_json *v) {
    if (!v) return;
    for (int i = 0; i < v->n; i++) {
        if (v->keys) free(v->keys[i]);
        wg_json_free(v->items[i]);
    }
    free(v->keys);
    free(v->items);
    free(v->string);
    free(v);
}

const wg_json *wg_json_member(const wg_json *object, const char *key) {
    if (!object || object->type != WG_JSON_OBJECT) return NULL;
    for (int i = 0; i < object->n; i++)
        if (!strcmp(object->keys[i], key)) return object->items[i];
    return NULL;
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

/* Breadth first: the shallowest member called `key` (a number, when asked). */
static const wg_json *find(const wg_json *root, const char *key, bool numbers_only) {
    if (!root) return NULL;
    const wg_json **queue = malloc(sizeof *queue);
    int head = 0, tail = 0, cap = 1;
    const wg_json *found = NULL;
    if (!queue) return NULL;
    queue[tail++] = root;
    while (head < tail && !found) {
        const wg_json *v = queue[head++];
        for (int i = 0; i < v->n && v->type == WG_JSON_OBJECT && !found; i++)
            if (!strcmp(v->keys[i], key) && (!numbers_only || v->items[i]->type == WG_JSON_NUMBER))
                found = v->items[i];
        for (int i = 0; i < v->n && !found; i++) {
            if (v->items[i]->type != WG_JSON_OBJECT && v->items[i]->type != WG_JSON_ARRAY) continue;
            if (tail == cap) {
                const wg_json **grown = realloc(queue, (size_t)(2 * cap) * sizeof *grown);
                if (!grown) break;
                queue = grown;
                cap *= 2;
            }
            queue[tail++] = v->items[i];
        }
    }
    free(queue);
    return found;
}

const wg_json *wg_json_find(const wg_json *root, const char *key) {
    return find(root, key, false);
}

double wg_json_find_number(const wg_json *root, const char *key) {
    return wg_json_number(find(root, key, true));
}

double wg_json_number(const wg_json *v) {
    if (v && v->type == WG_JSON_NUMBER) return v->number;
    if (v && v->type == WG_JSON_BOOL) return v->boolean ? 1 : 0;
    return NAN;
}

const char *wg_json_string(const wg_json *v) {
    return v && v->type == WG_JSON_STRING ? v->string : NULL;
}
