/* WG_API marks the functions and data of wgan's public interface: the only symbols
 * libwgan.so exports (everything else is built with hidden visibility). */
#ifndef WGAN_API_H
#define WGAN_API_H

#if defined(__GNUC__) || defined(__clang__)
#define WG_API __attribute__((visibility("default")))
#else
#define WG_API
#endif

#endif
