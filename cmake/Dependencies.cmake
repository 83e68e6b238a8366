# Every dependency comes from Debian 12 packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS unit_test_framework)
find_package(Poco 1.11 REQUIRED COMPONENTS Foundation Util Net NetSSL)  # NetSSL: https:// webhooks
find_package(TIFF REQUIRED)
find_package(OpenSSL 3.0 REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)  # libpq: the PostgreSQL backend
find_package(fmt REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
pkg_check_modules(SPANDSP REQUIRED IMPORTED_TARGET spandsp)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(XAPIAN REQUIRED IMPORTED_TARGET xapian-core)  # the full-text index (mailstore/)
pkg_check_modules(OATH REQUIRED IMPORTED_TARGET liboath)          # admin TOTP (RFC 6238)
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)  # admin TOTP enrolment QR code
pkg_check_modules(SECCOMP REQUIRED IMPORTED_TARGET libseccomp)    # the ingest decoder's system-call filter (common/)

# Standalone Asio (libasio-dev 1.22): Boost 1.74's bundled Asio does not build
# C++20 coroutines with g++ 12, and coroutines are our I/O model.
# ASIO_HAS_STD_ALIGNED_ALLOC: Asio decides it from a macro libstdc++ defines
# only once one of its headers is in, so files that include asio first got
# operator new/delete and the others aligned_alloc/free for the same inline
# functions; which pair the linker kept mixed them (ASan: alloc-dealloc-mismatch).
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(asio::asio INTERFACE IMPORTED)
set_target_properties(asio::asio PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${ASIO_INCLUDE_DIR}"
  INTERFACE_COMPILE_DEFINITIONS "ASIO_NO_DEPRECATED;ASIO_NO_TS_EXECUTORS;ASIO_HAS_STD_ALIGNED_ALLOC=1"
  INTERFACE_LINK_LIBRARIES "Threads::Threads;OpenSSL::SSL;OpenSSL::Crypto")

# A library that ships neither a pkg-config file nor a CMake config, found by
# a header and its name and imported as TARGET.
function(umstore_import_library target header library)
  find_path(${library}_INCLUDE_DIR ${header} REQUIRED)
  find_library(${library}_LIBRARY ${library} REQUIRED)
  add_library(${target} UNKNOWN IMPORTED)
  set_target_properties(${target} PROPERTIES
    IMPORTED_LOCATION "${${library}_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${${library}_INCLUDE_DIR}")
endfunction()

umstore_import_library(mimetic::mimetic mimetic/mimetic.h mimetic)
# libphonenumber's headers pull in protobuf's (libprotobuf-dev, a dependency of libphonenumber-dev).
umstore_import_library(phonenumber::phonenumber phonenumbers/phonenumberutil.h phonenumber)

# Boost.Test as a shared library: about 4x faster to compile than header-only.
function(umstore_add_test name)
  add_executable(${name} ${ARGN})
  target_compile_definitions(${name} PRIVATE BOOST_TEST_DYN_LINK)
  target_link_libraries(${name} PRIVATE Boost::unit_test_framework)
  add_test(NAME ${name} COMMAND ${name} --color_output=no --report_level=short)
endfunction()
