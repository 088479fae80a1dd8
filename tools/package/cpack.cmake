# The Debian package: `cpack -G DEB` in a portable build folder (README,
# "Installing") gives rowflow_<version>_amd64.deb, one package with the
# tool, its man page and completion, and the C++ library's CMake package,
# pkg-config file and headers. Depends: dpkg-shlibdeps' libraries for the
# tool, plus the -dev packages the CMake package finds (rowflowConfig.cmake)
# and python3 for rowflow-sklearn.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rowflow)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "rowflow developers")
set(CPACK_PACKAGE_CONTACT "rowflow developers <rowflow@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "neural-network dataflow graphs over many rows in parallel")
# The extended description; CPack indents it and writes the empty line as
# " ." (the synopsis is the summary above).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "rowflow runs a neural network, given as a dataflow graph (a protobuf model
file, a layer spec, an ONNX or scikit-learn model), over very many rows:
streaming CSV or .npy in, predictions out, in input order, on every core.

This package holds the rowflow command, its manual page and bash
completion, and the C++ library (static, with headers, a CMake package
and a pkg-config file). Its kernels pick AVX2 or AVX-512 at run time
where the CPU has them, with bitwise the same results.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The Python module calls numpy's C API (NEP 49 allocator for outputs), so
# it needs the numpy ABI it was built against, as dh_numpy3 would record:
# Debian's python3-numpy provides python3-numpy-abiN, N in its versions file.
# No versions file, no numpy to build against: say so rather than guess N.
set(_rowflow_numpy "python3-numpy (>= 1:1.22.0)")
if(EXISTS /usr/share/numpy3/versions)
  file(STRINGS /usr/share/numpy3/versions _rowflow_abi_line REGEX "^abi ")
  if(_rowflow_abi_line MATCHES "^abi ([0-9]+)")
    string(APPEND _rowflow_numpy ", python3-numpy-abi${CMAKE_MATCH_1}")
  endif()
endif()
if(NOT _rowflow_numpy MATCHES "abi")
  message(WARNING "rowflow: no numpy ABI in /usr/share/numpy3/versions; "
                  "the package will not pin python3-numpy-abiN")
endif()
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "python3 (>= 3.11), python3 (<< 3.12), ${_rowflow_numpy}, libtbb-dev, libprotobuf-dev, protobuf-compiler, libfmt-dev, zlib1g-dev, libzstd-dev, libonnx-dev, pkg-config")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3-sklearn, python3-pandas, python3-dask, python3-distributed")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/rowflow/rowflow")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Only the tool is stripped: strip(1) on a static library would drop its
# symbol table.
set(CPACK_STRIP_FILES ${CMAKE_INSTALL_BINDIR}/rowflow)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
