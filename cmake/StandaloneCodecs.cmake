# codecs/ as a static library of its own, for the projects that compile it
# with flags the main build must not get (bench/codecs: optimised, no
# sanitizers; fuzz/: clang with sanitizers). They find the libraries the
# codecs need themselves: they do not include Dependencies.cmake.
function(umstore_add_standalone_codecs target)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(SNDFILE REQUIRED IMPORTED_TARGET sndfile)
  pkg_check_modules(SPANDSP REQUIRED IMPORTED_TARGET spandsp)
  pkg_check_modules(POPPLER_CPP REQUIRED IMPORTED_TARGET poppler-cpp)
  pkg_check_modules(PANGOCAIRO REQUIRED IMPORTED_TARGET pangocairo)
  find_package(TIFF REQUIRED)
  find_package(PNG REQUIRED)
  find_package(JPEG REQUIRED)
  find_library(LAME_LIBRARY mp3lame REQUIRED)
  set(root ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..)
  file(GLOB sources CONFIGURE_DEPENDS ${root}/codecs/src/*.cpp)
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${root}/codecs/include)
  target_link_libraries(${target} PUBLIC PkgConfig::SNDFILE PkgConfig::SPANDSP PkgConfig::POPPLER_CPP
                                         PkgConfig::PANGOCAIRO TIFF::TIFF PNG::PNG JPEG::JPEG ${LAME_LIBRARY})
endfunction()
