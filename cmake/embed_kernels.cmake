# Writes every kernels/*.cl and kernels/*.h file, and the public headers the kernels
# share with C (HEADERS, a ;-list: include/wgan/philox.h), into a C array so the library
# carries its OpenCL sources: wg_embedded_kernels[] = { {"name.cl", "source"}, ..., {0, 0} }.
# Each file is named by its base name ("philox.h").
file(GLOB sources ${DIR}/*.h ${DIR}/*.cl)
list(APPEND sources ${HEADERS})
list(SORT sources)
set(body "/* Generated from kernels/ at build time. */\n#include <stddef.h>\n")
string(APPEND body "struct wg_embedded_kernel { const char *name; const char *source; };\n")
set(table "const struct wg_embedded_kernel wg_embedded_kernels[] = {\n")
set(i 0)
foreach(src ${sources})
  get_filename_component(name ${src} NAME)
  file(READ ${src} hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char k${i}[] = {${hex}0x00};\n")
  string(APPEND table "    {\"${name}\", k${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
string(APPEND table "    {NULL, NULL},\n};\n")
file(WRITE ${OUT} "${body}${table}")
