# Every third-party dependency is a Debian 12 package (see docs/DEPENDENCIES.md
# for why each is here). Imported as namespaced targets so that modules only
# link what they use.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

# OpenCV: only the modules we use (header cost and link size matter).
find_package(OpenCV 4.5 REQUIRED COMPONENTS core imgproc imgcodecs videoio dnn calib3d)
add_library(lg_dep_opencv INTERFACE)
target_link_libraries(lg_dep_opencv INTERFACE opencv_core opencv_imgproc opencv_imgcodecs opencv_videoio opencv_dnn opencv_calib3d)
target_include_directories(lg_dep_opencv SYSTEM INTERFACE ${OpenCV_INCLUDE_DIRS})
add_library(livegate::opencv ALIAS lg_dep_opencv)

# OpenBLAS (libopenblas-dev; its pkg-config module is `openblas`, pthread
# build): cblas_sgemm for the descriptor's convolutions (src/vision/gemm_conv.cc).
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
add_library(lg_dep_blas INTERFACE)
target_link_libraries(lg_dep_blas INTERFACE PkgConfig::OPENBLAS)
add_library(livegate::blas ALIAS lg_dep_blas)

# libjpeg-turbo (libjpeg62-turbo-dev, the library OpenCV's imgcodecs already
# loads): client frames decoded straight to BGR (src/vision/jpeg_decode.cc).
# The extension JCS_EXT_BGR is libjpeg-turbo's: IJG libjpeg would not do.
find_package(JPEG REQUIRED)
include(CheckSymbolExists)
set(CMAKE_REQUIRED_INCLUDES ${JPEG_INCLUDE_DIRS})
check_symbol_exists(JCS_EXTENSIONS "stdio.h;jpeglib.h" LIVEGATE_HAVE_JCS_EXTENSIONS)
unset(CMAKE_REQUIRED_INCLUDES)
if(NOT LIVEGATE_HAVE_JCS_EXTENSIONS)
  message(FATAL_ERROR "jpeglib.h is not libjpeg-turbo's (no JCS_EXTENSIONS): install libjpeg62-turbo-dev")
endif()

find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(SQLite3 REQUIRED)

pkg_check_modules(BOTAN REQUIRED IMPORTED_TARGET botan-2)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(PQXX REQUIRED IMPORTED_TARGET libpqxx)
find_package(SQLiteCpp QUIET)
if(NOT TARGET SQLiteCpp)
  add_library(SQLiteCpp INTERFACE IMPORTED)
  set_target_properties(SQLiteCpp PROPERTIES INTERFACE_LINK_LIBRARIES "-lSQLiteCpp;SQLite::SQLite3")
endif()
find_package(CLI11 QUIET)
find_package(spdlog QUIET)

if(LIVEGATE_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(LIVEGATE_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
