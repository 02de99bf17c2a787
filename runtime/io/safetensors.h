/* The safetensors file format (huggingface/safetensors), F32 tensors only: an 8-byte
 * little-endian header length, a JSON header mapping each tensor name to its dtype,
 * shape and [begin, end) byte range in the data that follows, plus "__metadata__"
 * (string to string), then the raw little-endian data. */
#ifndef WGAN_SAFETENSORS_H
#define WGAN_SAFETENSORS_H

#include <stdint.h>

#include "wgan/graph.h"
#include "wgan/status.h"

typedef struct wg_st_tensor {
    const char *name;
    wg_shape shape;
    const float *data; /* numel(shape) floats */
} wg_st_tensor;

typedef struct wg_st_meta {
    const char *key, *value;
} wg_st_meta;

/* Writes the tensors in the order given and the metadata atomically
 * (wg_write_file_atomic). Names must be unique. */
wg_status wg_safetensors_write(const char *path, int count, const wg_st_tensor *tensors, int n_meta,
                               const wg_st_meta *meta);

typedef struct wg_safetensors wg_safetensors;

/* Reads and validates a whole file: JSON syntax, F32 only, offsets that tile the data
 * exactly, shapes that match the byte ranges. WG_ERR_IO naming the path otherwise. */
wg_status wg_safetensors_read(const char *path, wg_safetensors **out);
void wg_safetensors_free(wg_safetensors *file);
int wg_safetensors_count(const wg_safetensors *file);
const wg_st_tensor *wg_safetensors_at(const wg_safetensors *file, int index);
/* NULL when absent. Tensor data is 4-byte aligned and lives as long as the file. */
const wg_st_tensor *wg_safetensors_find(const wg_safetensors *file, const char *name);
const char *wg_safetensors_meta(const wg_safetensors *file, const char *key);

#endif
