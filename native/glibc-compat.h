// Included (with -include) only by scripts/prebuild.js when it builds the prebuilt glibc addons:
// they are made on a recent glibc but must load wherever official Node builds run, which need
// glibc 2.28 and no later. glibc 2.34 moved the pthread functions into libc.so.6 under new symbol
// versions, so a plain link here would demand GLIBC_2.34 of every user. These directives bind the
// two functions that moved and that the addon uses to their first versions, which every glibc
// since 2.2.5 (x86-64) or 2.17 (aarch64) provides: libc.so.6 itself on 2.34 and later, and
// libpthread.so.0, which Node is linked with, before. scripts/prebuild.js checks the result: no
// symbol may need a version above 2.28. A source build (node-gyp) runs where it is built and
// does not need this.
// features.h defines __GLIBC__ (glibc) or nothing of the kind (musl): -include runs first.
#include <features.h>
#if defined(__GLIBC__)
#if defined(__x86_64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_attr_setstacksize,pthread_attr_setstacksize@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.17");
__asm__(".symver pthread_attr_setstacksize,pthread_attr_setstacksize@GLIBC_2.17");
#endif
#endif
