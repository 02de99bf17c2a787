/* The run folder's pictures (pictures.c): samples/step_N.png, samples/real.png. */
#ifndef WGAN_TRAIN_PICTURES_H
#define WGAN_TRAIN_PICTURES_H

#include "experiment.h"

/* The generator at the fixed sample noise, at the current step. */
wg_status exp_write_samples(wg_experiment *e);
/* The real images the pictures are compared with (image data only). */
wg_status exp_write_real_images(wg_experiment *e);

#endif
