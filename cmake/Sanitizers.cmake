# UMSTORE_SANITIZE=address,undefined builds everything with those
# sanitizers (g++'s -fsanitize list); scripts/test.sh builds the parsing
# libraries' unit tests so in build-asan. UBSan stops at its first report,
# so a test run cannot pass over one. -O1 with line tables only (after the
# build type's flags, so they win) compiles in under half the CPU time of
# -O2 -g, and the reports still name file and line.
set(UMSTORE_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined (empty: none)")
if(UMSTORE_SANITIZE)
  add_compile_options(-fsanitize=${UMSTORE_SANITIZE} -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g1)
  add_link_options(-fsanitize=${UMSTORE_SANITIZE})
endif()
