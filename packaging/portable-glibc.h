/* Included into every C file of the portable CPython build (packaging/portable.sh).
 *
 * Bullseye's glibc (2.31) gives a few functions a new symbol version, and a program
 * built there asks for it, although the older version of the same function is still
 * exported by every glibc: these bind to the older one, so the build does not need a
 * newer glibc than its other parts do.
 *
 * - exp, exp2, log, log2, pow: GLIBC_2.29 re-versioned them when it dropped the old
 *   SVID error handling (_LIB_VERSION, gone since 2.27 anyway); the GLIBC_2.2.5 entry
 *   points compute the same results and set errno the same way, which is what CPython's
 *   math module checks.
 * - fcntl64: GLIBC_2.28 added it for 32-bit off_t systems; on x86-64 it is the same
 *   function as fcntl (an alias in glibc), asked for only because CPython compiles with
 *   _FILE_OFFSET_BITS=64.
 */
#if defined(__x86_64__) && defined(__linux__)  /* no glibc header is read yet */
__asm__(".symver exp,exp@GLIBC_2.2.5");
__asm__(".symver exp2,exp2@GLIBC_2.2.5");
__asm__(".symver log,log@GLIBC_2.2.5");
__asm__(".symver log2,log2@GLIBC_2.2.5");
__asm__(".symver pow,pow@GLIBC_2.2.5");
__asm__(".symver fcntl64,fcntl@GLIBC_2.2.5");
#endif
