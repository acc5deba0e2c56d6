# FindLlhttp: provides the imported target Llhttp::llhttp.
#
# Prefers a system shared library (a `libllhttp` with its header, as newer distributions ship);
# otherwise compiles the C sources that Debian's `node-llhttp` package installs
# (/usr/share/llhttp/{llhttp,api,http}.c and /usr/share/include/llhttp/llhttp.h) into a static
# library. Nothing is vendored and nothing is downloaded.
include(FindPackageHandleStandardArgs)

find_library(LLHTTP_LIBRARY NAMES llhttp)
find_path(LLHTTP_INCLUDE_DIR NAMES llhttp.h PATHS /usr/include /usr/local/include NO_DEFAULT_PATH)

if(LLHTTP_LIBRARY AND LLHTTP_INCLUDE_DIR)
  set(Llhttp_FROM "system library ${LLHTTP_LIBRARY}")
  if(NOT TARGET Llhttp::llhttp)
    add_library(Llhttp::llhttp UNKNOWN IMPORTED)
    set_target_properties(Llhttp::llhttp PROPERTIES IMPORTED_LOCATION "${LLHTTP_LIBRARY}"
                          INTERFACE_INCLUDE_DIRECTORIES "${LLHTTP_INCLUDE_DIR}")
  endif()
else()
  find_path(LLHTTP_SOURCE_DIR NAMES llhttp.c api.c http.c PATHS /usr/share/llhttp NO_DEFAULT_PATH)
  find_path(LLHTTP_INCLUDE_DIR NAMES llhttp.h PATHS /usr/share/include/llhttp NO_DEFAULT_PATH)
  if(LLHTTP_SOURCE_DIR AND LLHTTP_INCLUDE_DIR)
    set(Llhttp_FROM "sources in ${LLHTTP_SOURCE_DIR}")
    set(LLHTTP_LIBRARY llhttp_from_sources)
    if(NOT TARGET llhttp_from_sources)
      add_library(llhttp_from_sources STATIC
                  ${LLHTTP_SOURCE_DIR}/llhttp.c ${LLHTTP_SOURCE_DIR}/api.c ${LLHTTP_SOURCE_DIR}/http.c)
      target_include_directories(llhttp_from_sources SYSTEM PUBLIC ${LLHTTP_INCLUDE_DIR})
      set_target_properties(llhttp_from_sources PROPERTIES POSITION_INDEPENDENT_CODE ON)
      # Generated C from the llhttp project: its warnings are not ours to fix.
      target_compile_options(llhttp_from_sources PRIVATE -w)
      add_library(Llhttp::llhttp ALIAS llhttp_from_sources)
    endif()
  endif()
endif()

find_package_handle_standard_args(Llhttp REQUIRED_VARS LLHTTP_LIBRARY LLHTTP_INCLUDE_DIR)
if(Llhttp_FOUND)
  message(STATUS "llhttp: ${Llhttp_FROM}")
endif()
