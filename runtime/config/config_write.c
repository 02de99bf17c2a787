/* Writing a configuration tree back to YAML with libyaml's emitter, checked to load back. */
#include "config/config_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

static bool has_content(const wg_cfg *node);

/* What to write for an entry: its value, or with defaults the default used in place
 * of an absent or null value; NULL for nothing. */
static const wg_cfg *shown(const cfg_entry *e, unsigned flags) {
    bool present = e->value && !cfg_is_null(e->value);
    if (!present && (flags & WG_CFG_WRITE_DEFAULTS) && e->dflt && has_content(e->dflt))
        return e->dflt;
    return e->value;
}

/* Implicit mappings are written only when some default was used below them. */
static bool has_content(const wg_cfg *node) {
    if (node->type != WG_CFG_MAPPING || !node->implicit) return true;
    for (size_t i = 0; i < node->n_entries; i++)
        if (node->entries[i].dflt && has_content(node->entries[i].dflt)) return true;
    return false;
}

static yaml_scalar_style_t yaml_style(cfg_style style) {
    switch (style) {
    case CFG_PLAIN: return YAML_PLAIN_SCALAR_STYLE;
    case CFG_SINGLE: return YAML_SINGLE_QUOTED_SCALAR_STYLE;
    case CFG_DOUBLE: return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    case CFG_LITERAL: return YAML_LITERAL_SCALAR_STYLE;
    case CFG_FOLDED: return YAML_FOLDED_SCALAR_STYLE;
    }
    return YAML_ANY_SCALAR_STYLE;
}

static bool emit_scalar(yaml_emitter_t *em, const char *text, yaml_scalar_style_t style) {
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)strlen(text), 1,
                                        1, style) &&
           yaml_emitter_emit(em, &ev);
}

static bool emit_node(yaml_emitter_t *em, const wg_cfg *node, unsigned flags) {
    yaml_event_t ev;
    switch (node->type) {
    case WG_CFG_SCALAR:
        /* an empty plain scalar would come out quoted inside [...] and read back as "" */
        if (cfg_is_null(node) && !node->text[0])
            return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
        return emit_scalar(em, node->text, yaml_style(node->style));
    case WG_CFG_SEQUENCE:
        if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
                                                  node->flow ? YAML_FLOW_SEQUENCE_STYLE
                                                             : YAML_BLOCK_SEQUENCE_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        for (size_t i = 0; i < node->n_items; i++)
            if (!emit_node(em, node->items[i], flags)) return false;
        return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    case WG_CFG_MAPPING:
        if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                                 node->flow ? YAML_FLOW_MAPPING_STYLE
                                                            : YAML_BLOCK_MAPPING_STYLE) ||
            !yaml_emitter_emit(em, &ev))
            return false;
        /* the document's keys in their order, then the defaults of absent ones */
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < node->n_entries; i++) {
                const cfg_entry *e = &node->entries[i];
                if ((e->value != NULL) != (pass == 0)) continue;
                const wg_cfg *value = shown(e, flags);
                if (!value) continue;
                if (!emit_scalar(em, e->key, YAML_ANY_SCALAR_STYLE) || !emit_node(em, value, flags))
                    return false;
            }
        return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
    }
    return false;
}

/* The YAML text of `node` into a new string (free()). */
static wg_status emit(const wg_cfg *node, unsigned flags, char **text, size_t *len) {
    *text = NULL;
    *len = 0;
    FILE *mem = open_memstream(text, len);
    if (!mem) return cfg_nomem();
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) {
        fclose(mem);
        free(*text);
        return cfg_nomem();
    }
    yaml_emitter_set_output_file(&em, mem);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_indent(&em, 2);
    yaml_emitter_set_width(&em, -1); /* no folding of long strings */
    yaml_event_t ev;
    bool ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) &&
              yaml_emitter_emit(&em, &ev) &&
              yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) &&
              yaml_emitter_emit(&em, &ev) && emit_node(&em, node, flags) &&
              yaml_document_end_event_initialize(&ev, 1) && yaml_emitter_emit(&em, &ev) &&
              yaml_stream_end_event_initialize(&ev) && yaml_emitter_emit(&em, &ev) &&
              yaml_emitter_flush(&em);
    wg_status status = WG_OK;
    if (!ok && em.error == YAML_EMITTER_ERROR)
        status = wg_fail(WG_ERR_IO, "cannot write the configuration: %s", em.problem);
    else if (!ok)
        status = cfg_nomem();
    yaml_emitter_delete(&em);
    if (fclose(mem) != 0 && status == WG_OK) status = cfg_nomem();
    if (status != WG_OK) {
        free(*text);
        *text = NULL;
    }
    return status;
}

/* Whether the loader accepts `text`: the tree may have grown past the loader's limits
 * through overrides or defaults, and a file that cannot be loaded back (a run folder's
 * config.yaml that --resume refuses) is worse than an error now. */
static wg_status check_loadable(const char *text, size_t len) {
    static const char name[] = "the written configuration";
    if (len > CFG_MAX_FILE_BYTES)
        return wg_fail(WG_ERR_CONFIG,
                       "cannot write the configuration: %zu bytes, more than the %u MiB that "
                       "can be loaded",
                       len, CFG_MAX_FILE_BYTES >> 20);
    wg_cfg *back = NULL;
    wg_status status = cfg_parse(name, text, len, true, "", 0, false, &back);
    cfg_node_free(back);
    if (status == WG_ERR_CONFIG) {
        char inner[768];
        snprintf(inner, sizeof inner, "%s", wg_last_error());
        status = wg_fail(WG_ERR_CONFIG,
                         "cannot write the configuration: it could not be loaded "
                         "back: %s",
                         inner);
    }
    return status;
}

wg_status wg_cfg_write(const wg_cfg *node, FILE *f, unsigned flags) {
    char *text;
    size_t len;
    wg_status status = emit(node, flags, &text, &len);
    if (status == WG_OK) status = check_loadable(text, len);
    if (status == WG_OK) {
        errno = 0;
        if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || ferror(f))
            status = wg_fail(WG_ERR_IO, "cannot write the configuration: %s",
                             errno ? strerror(errno) : "write error");
    }
    free(text);
    return status;
}

wg_status wg_cfg_save(const wg_cfg *node, const char *path, unsigned flags) {
    size_t size = strlen(path) + 16;
    char *tmp = malloc(size);
    if (!tmp) return cfg_nomem();
    snprintf(tmp, size, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        wg_status status = wg_fail(WG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        free(tmp);
        return status;
    }
    (void)fchmod(fd, 0644); /* mkstemp makes it private; a run folder is for reading */
    FILE *f = fdopen(fd, "w");
    wg_status status = WG_OK;
    if (!f) {
        status = wg_fail(WG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        close(fd);
    } else {
        status = wg_cfg_write(node, f, flags);
        if (status == WG_OK && fsync(fileno(f)) != 0)
            status = wg_fail(WG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (fclose(f) != 0 && status == WG_OK)
            status = wg_fail(WG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        if (status == WG_OK && rename(tmp, path) != 0)
            status = wg_fail(WG_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
        else if (status != WG_OK && strstr(wg_last_error(), path) == NULL) {
            char inner[768];
            snprintf(inner, sizeof inner, "%s", wg_last_error());
            status = wg_fail(status, "cannot write '%s': %s", path, inner);
        }
    }
    if (status != WG_OK) unlink(tmp);
    free(tmp);
    return status;
}
