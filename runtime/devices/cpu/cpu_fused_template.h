/* Fused element-wise regions (runtime/core/fuse.h) on the cpu, written once for an
 * element type: cpu_kernels.c includes this file after cpu_kernels_template.h, whose
 * map and binary functions it calls, with the same REAL and FN.
 *
 * A region runs over tiles of FUSED_TILE elements. Each step is one loop over the tile
 * (the switch on its code outside the loop), reading and writing buffers of a few KiB
 * that stay in L1, so memory is read and written once per region instead of once per
 * node. Every step rounds to REAL exactly as its node run alone does, and no two steps
 * are contracted into one expression, so the results are bit for bit the unfused ones.
 * Deliberately no include guard. */

#ifndef FUSED_TILE
#define FUSED_TILE 1024
#endif

/* Elements [first, first + count) of a strided read, into dst. */
static void FN(fused_gather)(REAL *dst, const REAL *base, const wg_fused_input *in, int64_t first,
                             int64_t count) {
    const int last = in->ndim - 1;
    int64_t index[WG_MAX_DIMS], offset = 0, rest = first;
    for (int k = last; k >= 0; k--) {
        index[k] = rest % in->dim[k];
        rest /= in->dim[k];
        offset += index[k] * in->stride[k];
    }
    const int64_t inner = in->dim[last], step = in->stride[last];
    for (int64_t t = 0; t < count;) {
        int64_t run = inner - index[last] < count - t ? inner - index[last] : count - t;
        if (step == 0) {
            const REAL v = base[offset];
            for (int64_t j = 0; j < run; j++) dst[t + j] = v;
        } else if (step == 1) {
            memcpy(dst + t, base + offset, (size_t)run * sizeof(REAL));
        } else {
            for (int64_t j = 0; j < run; j++) dst[t + j] = base[offset + j * step];
        }
        t += run;
        offset += run * step;
        index[last] += run;
        if (index[last] < inner) continue;
        offset -= inner * step;
        index[last] = 0;
        for (int k = last - 1; k >= 0; k--) {
            offset += in->stride[k];
            if (++index[k] < in->dim[k]) break;
            offset -= in->stride[k] * in->dim[k];
            index[k] = 0;
        }
    }
}

/* One step over n elements. */
static void FN(fused_step)(const wg_fused_step *s, REAL *out, const REAL *a, const REAL *b,
                           int64_t n) {
    const REAL p0 = (REAL)s->param[0], p1 = (REAL)s->param[1];
    (void)p0, (void)p1;
#define FUSED_MAP(NAME, name, ...)                                                                 \
    case WG_MAP_##NAME:                                                                            \
        for (int64_t t = 0; t < n; t++) out[t] = FN(map_##name)(a[t], p0, p1);                     \
        break;
#define FUSED_BINARY(NAME, name)                                                                   \
    case WG_BIN_##NAME:                                                                            \
        for (int64_t t = 0; t < n; t++) out[t] = FN(binary_##name)(a[t], b[t]);                    \
        break;
    if (s->op == WG_OP_MAP) {
        switch (s->code) { WG_MAP_LIST(FUSED_MAP) }
    } else {
        switch (s->code) { WG_BINARY_LIST(FUSED_BINARY) }
    }
#undef FUSED_BINARY
#undef FUSED_MAP
}

static void FN(fused_range)(void *ctx, int64_t first, int64_t end, int worker) {
    (void)worker;
    const wg_fused *r = ctx;
    _Alignas(WG_CPU_ALIGN) REAL regs[WG_FUSED_MAX_REGS][FUSED_TILE];
    const REAL *slot[WG_FUSED_MAX_INPUTS + WG_FUSED_MAX_STEPS];
    for (int i = 0; i < r->n_inputs; i++) {
        const wg_fused_input *in = &r->input[i];
        const REAL *base = (const REAL *)((const char *)in->ref.mem + in->ref.offset);
        slot[i] = in->read == WG_FUSED_CONTIGUOUS ? base : regs[in->reg];
        if (in->read == WG_FUSED_SCALAR)
            for (int t = 0; t < FUSED_TILE; t++) regs[in->reg][t] = base[0];
    }
    for (int64_t at = first; at < end; at += FUSED_TILE) {
        const int64_t n = end - at < FUSED_TILE ? end - at : FUSED_TILE;
        for (int i = 0; i < r->n_inputs; i++) {
            const wg_fused_input *in = &r->input[i];
            const REAL *base = (const REAL *)((const char *)in->ref.mem + in->ref.offset);
            if (in->read == WG_FUSED_CONTIGUOUS)
                slot[i] = base + at;
            else if (in->read == WG_FUSED_STRIDED)
                FN(fused_gather)(regs[in->reg], base, in, at, n);
        }
        for (int k = 0; k < r->n_steps; k++) {
            const wg_fused_step *s = &r->step[k];
            REAL *out = s->reg >= 0 ? regs[s->reg]
                                    : (REAL *)((char *)r->output[s->output].ref.mem +
                                               r->output[s->output].ref.offset) +
                                          at;
            FN(fused_step)
            (s, out, slot[s->arg[0]], s->op == WG_OP_BINARY ? slot[s->arg[1]] : NULL, n);
            slot[r->n_inputs + k] = out;
        }
        /* in-place outputs overwrite what the steps read: stored after all of them */
        for (int o = 0; o < r->n_outputs; o++) {
            const wg_fused_output *out = &r->output[o];
            if (!out->in_place) continue;
            REAL *dst = (REAL *)((char *)out->ref.mem + out->ref.offset) + at;
            memcpy(dst, regs[r->step[out->step].reg], (size_t)n * sizeof(REAL));
        }
    }
}

wg_status FN(wg_cpu_run_fused)(const wg_fused *region) {
    /* threads pay off from WG_CPU_PARALLEL_MIN element operations, and a chunk is whole
     * tiles */
    const int64_t work = region->numel * region->n_steps;
    int64_t grain = region->numel;
    if (work >= WG_CPU_PARALLEL_MIN) {
        grain = (WG_CPU_PARALLEL_MIN / 4) / region->n_steps;
        grain = (grain + FUSED_TILE - 1) / FUSED_TILE * FUSED_TILE;
    }
    wg_cpu_parallel(region->numel, grain, FN(fused_range), (void *)region);
    return WG_OK;
}
