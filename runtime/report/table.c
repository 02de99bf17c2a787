/* CSV tables as text cells (RFC 4180), read by column name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

typedef struct cell_list {
    char **items;
    int64_t n, cap;
} cell_list;

static int list_push(cell_list *list, char *item) {
    if (list->n == list->cap) {
        int64_t cap = list->cap ? 2 * list->cap : 64;
        char **grown = realloc(list->items, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        list->items = grown;
        list->cap = cap;
    }
    list->items[list->n++] = item;
    return 1;
}

static void list_free(cell_list *list) {
    for (int64_t i = 0; i < list->n; i++) free(list->items[i]);
    free(list->items);
    *list = (cell_list){0};
}

/* One field starting at *p; advances past it and its separator, and sets *end_of_row
 * when the field ended a line (or the text). Returns NULL on a bad quote or no memory,
 * with *bad_quote telling which. */
static char *read_field(const char **p, int *end_of_row, int *bad_quote) {
    wg_buf field = {0};
    const char *s = *p;
    wg_buf_append(&field, "", 0);
    if (*s == '"') {
        s++;
        for (;;) {
            if (!*s) {
                *bad_quote = 1;
                wg_buf_free(&field);
                return NULL;
            }
            if (*s == '"' && s[1] == '"') {
                wg_buf_append(&field, "\"", 1);
                s += 2;
            } else if (*s == '"') {
                s++;
                break;
            } else {
                wg_buf_append(&field, s++, 1);
            }
        }
        /* anything between the closing quote and the separator is kept as is */
        while (*s && *s != ',' && *s != '\n' && *s != '\r') wg_buf_append(&field, s++, 1);
    } else {
        const char *start = s;
        while (*s && *s != ',' && *s != '\n' && *s != '\r') s++;
        wg_buf_append(&field, start, (size_t)(s - start));
    }
    *end_of_row = *s != ',';
    if (*s == ',')
        s++;
    else if (*s == '\r' && s[1] == '\n')
        s += 2;
    else if (*s)
        s++;
    *p = s;
    if (field.failed) {
        wg_buf_free(&field);
        return NULL;
    }
    return field.data;
}

wg_status wg_table_parse(const char *name, const char *text, wg_table *out) {
    *out = (wg_table){0};
    cell_list header = {0}, cells = {0};
    const char *p = text;
    int row = 0, col = 0, bad_quote = 0;
    wg_status s = WG_OK;
    /* a text ending in a separator ends with an empty field, which pads the row */
    while ((*p || col > 0) && s == WG_OK) {
        if (col == 0 && (*p == '\n' || *p == '\r')) { /* blank line */
            p++;
            continue;
        }
        int end = 0;
        char *field = read_field(&p, &end, &bad_quote);
        if (!field) {
            s = bad_quote ? wg_fail(WG_ERR_INVALID, "%s: row %d: unterminated quoted field", name,
                                    row + 1)
                          : wg_fail(WG_ERR_NOMEM, "out of memory reading %s", name);
            break;
        }
        if (row == 0) {
            if (!list_push(&header, field)) s = WG_ERR_NOMEM;
        } else if (col < header.n) {
            if (!list_push(&cells, field)) s = WG_ERR_NOMEM;
        } else {
            free(field); /* a field beyond the header has no name to be read by */
        }
        if (s == WG_ERR_NOMEM) {
            free(field);
            s = wg_fail(WG_ERR_NOMEM, "out of memory reading %s", name);
            break;
        }
        col++;
        if (end) {
            for (; row > 0 && col < header.n; col++)
                if (!list_push(&cells, NULL)) {
                    s = wg_fail(WG_ERR_NOMEM, "out of memory reading %s", name);
                    break;
                }
            row++;
            col = 0;
        }
    }
    /* a ragged last row (no line end after it) is padded like any short row, so
     * every cell kept belongs to a whole row and is freed with the table */
    for (; s == WG_OK && row > 0 && col > 0 && col < header.n; col++)
        if (!list_push(&cells, NULL)) s = wg_fail(WG_ERR_NOMEM, "out of memory reading %s", name);
    if (s != WG_OK) {
        list_free(&header);
        list_free(&cells);
        return s;
    }
    out->n_cols = (int)header.n;
    out->header = header.items;
    out->n_rows = header.n ? cells.n / header.n : 0;
    out->cells = cells.items;
    return WG_OK;
}

wg_status wg_table_read(const char *path, wg_table *out) {
    char *text = NULL;
    size_t size = 0;
    *out = (wg_table){0};
    wg_status s = wg_read_file(path, &text, &size);
    if (s == WG_OK) s = wg_table_parse(path, text, out);
    free(text);
    return s;
}

void wg_table_free(wg_table *t) {
    if (!t) return;
    for (int i = 0; i < t->n_cols; i++) free(t->header[i]);
    for (int64_t i = 0; i < t->n_rows * t->n_cols; i++) free(t->cells[i]);
    free(t->header);
    free(t->cells);
    *t = (wg_table){0};
}

int wg_table_column(const wg_table *t, const char *name) {
    for (int i = 0; i < t->n_cols; i++)
        if (!strcmp(t->header[i], name)) return i;
    return -1;
}

const char *wg_table_cell(const wg_table *t, int64_t row, int col) {
    if (row < 0 || row >= t->n_rows || col < 0 || col >= t->n_cols) return "";
    const char *cell = t->cells[row * t->n_cols + col];
    return cell ? cell : "";
}

double wg_table_number(const wg_table *t, int64_t row, int col) {
    const char *cell = wg_table_cell(t, row, col);
    while (*cell == ' ') cell++;
    if (!*cell) return NAN;
    char *end;
    double v = strtod(cell, &end);
    while (*end == ' ') end++;
    return *end ? NAN : v;
}

void wg_buf_csv_field(wg_buf *buf, const char *text) {
    if (!strpbrk(text, ",\"\n\r")) {
        wg_buf_puts(buf, text);
        return;
    }
    wg_buf_puts(buf, "\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            wg_buf_puts(buf, "\"\"");
        else
            wg_buf_append(buf, p, 1);
    }
    wg_buf_puts(buf, "\"");
}
