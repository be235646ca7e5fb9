#[=======================================================================[.rst:
ncclkitConfig
-------------

ncclkit's CMake package: build Python extensions, or plain C++ targets, that use CUDA and NCCL
the way ncclkit builds its own. Installed in the wheel as ``ncclkit/cmake``, where
scikit-build-core finds it in the build environment's site-packages and any other build with
``-Dncclkit_DIR=$(python -m ncclkit --cmake-dir)``; or from a checkout, without Python, by
``cmake -S . -B build -DNCCLKIT_PYTHON=OFF && cmake --install build --prefix <prefix>`` into
``<prefix>/lib/cmake/ncclkit`` (``CMAKE_PREFIX_PATH=<prefix>``).

.. code-block:: cmake

  project(mypkg LANGUAGES CXX)           # find_package(ncclkit) enables CUDA, or HIP for NCCLKIT_NCCL=rccl
  find_package(ncclkit CONFIG REQUIRED)
  ncclkit_add_extension(_myext SOURCES ext.cpp kernels.cu NCCL)

  add_executable(demo main.cpp)         # C++ alone: no Python, no pybind11
  ncclkit_target_link_nccl(demo)

Provides
^^^^^^^^

``ncclkit_add_extension()``
  A pybind11 module, as the sequence of the functions below (``NcclkitExtension.cmake``).
``ncclkit_target_cuda()``, ``ncclkit_target_hip()``
  GPU compile settings on an existing target (``NcclkitTargetCuda.cmake``).
``ncclkit_target_cuda_sources()``
  CUDA sources of a target that build for some archs only (``NcclkitSourceArchs.cmake``).
``ncclkit_find_torch()``, ``ncclkit_target_torch()``
  torch, or its stable ABI, on an existing target (``NcclkitTorch.cmake``).
``ncclkit_target_link_nccl()``, ``ncclkit_target_config_header()``
  NCCL, its floor and ``<ncclkit/config.h>`` on an existing target (``NcclkitTargetNccl.cmake``).
``ncclkit_target_build_record()``
  The target's build record (``NcclkitBuildInfo.cmake``).
``ncclkit::nccl``
  The NCCL found, with its facts as properties (``NcclkitProvider.cmake``), made by the first
  of these functions that needs it.
``FindNCCL``, ``FindRCCL``
  On ``CMAKE_MODULE_PATH``, so ``find_package(NCCL)`` searches as ncclkit does.
``NCCLKIT_CUDA_ARCHITECTURES``
  The ``CUDA_ARCHITECTURES`` that ``NCCLKIT_CUDA_ARCHS`` resolves to.

Reads the options ``NCCLKIT_NCCL``, ``NCCLKIT_NCCL_STATIC``, ``NCCLKIT_CUDA_TOOLKIT``,
``NCCLKIT_CUDA_VERSION``, ``NCCLKIT_CUDA_ARCHS`` (else ``TORCH_CUDA_ARCH_LIST``), ``NCCL_SOURCE_DIR``, ``MAX_JOBS`` and
``NVCC_THREADS`` (cache or environment), enables CUDA (or HIP) when the project has not, finds
the CUDA toolkit for CUDA and, where there is one, Python and pybind11
(``NCCLKIT_PYBIND11_MINIMUM`` or newer), which only ``ncclkit_add_extension`` needs.
#]=======================================================================]

cmake_policy(VERSION 3.25)  # the policies ncclkit is written for, whatever the project sets
get_property(_ncclkit_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
if(NOT "CXX" IN_LIST _ncclkit_languages)
  set(ncclkit_FOUND FALSE)
  set(ncclkit_NOT_FOUND_MESSAGE "ncclkit builds C++ extensions, and this project has not enabled CXX: use \
project(<name> LANGUAGES CXX) before find_package(ncclkit).")
  return()
endif()

list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")
include(NcclkitOptions)
include(NcclkitExtension)
include(NcclkitSourceArchs)
ncclkit_read_options()

# A project that enabled only CXX gets the GPU language NCCLKIT_NCCL asks for; CUDA's compiler is
# found first as NcclkitCudaToolkit.cmake says, so that NVIDIA's PyPI compiler wheels work too.
if(NOT "CUDA" IN_LIST _ncclkit_languages AND NOT "HIP" IN_LIST _ncclkit_languages)
  if(NCCLKIT_NCCL STREQUAL "rccl")
    enable_language(HIP)
  else()
    include(NcclkitCudaToolkit)
    ncclkit_cuda_toolkit()
    enable_language(CUDA)
  endif()
  get_property(_ncclkit_languages GLOBAL PROPERTY ENABLED_LANGUAGES)
endif()

# The oldest pybind11 ncclkit_add_extension builds with; pyproject.toml's requirements name the same.
set(NCCLKIT_PYBIND11_MINIMUM 3.0)
# Python and pybind11 are for Python modules: a C++ project builds without them.
find_package(Python 3.10 QUIET COMPONENTS Interpreter Development.Module)
# Outside scikit-build-core nothing points CMake at pybind11: the Python that builds knows where
# its pybind11 is.
if(Python_FOUND AND NOT pybind11_DIR)
  execute_process(COMMAND "${Python_EXECUTABLE}" -m pybind11 --cmakedir
    OUTPUT_VARIABLE _ncclkit_pybind11_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
if(Python_FOUND)
  find_package(pybind11 ${NCCLKIT_PYBIND11_MINIMUM} CONFIG QUIET HINTS "${_ncclkit_pybind11_dir}")
endif()
include(NcclkitBuildEnvironment)
ncclkit_stable_paths(pybind11::pybind11_headers)

if("CUDA" IN_LIST _ncclkit_languages)
  include(CMakeFindDependencyMacro)
  find_dependency(CUDAToolkit)
  # torch's spelling of the archs, for a build set up for torch's: NCCLKIT_CUDA_ARCHS wins.
  if(NCCLKIT_CUDA_ARCHS STREQUAL "" AND NOT TORCH_CUDA_ARCH_LIST STREQUAL "")
    ncclkit_cuda_archs("${TORCH_CUDA_ARCH_LIST}" NAME TORCH_CUDA_ARCH_LIST)
  else()
    ncclkit_cuda_archs("${NCCLKIT_CUDA_ARCHS}")
  endif()
elseif(NCCLKIT_CUDA_ARCHS)
  message(FATAL_ERROR
    "NCCLKIT_CUDA_ARCHS='${NCCLKIT_CUDA_ARCHS}', but this build compiles HIP, not CUDA. Give ROCm's "
    "archs as CMAKE_HIP_ARCHITECTURES (e.g. -DCMAKE_HIP_ARCHITECTURES='gfx90a;gfx942'), and unset NCCLKIT_CUDA_ARCHS.")
endif()
# Ninja runs ncclkit's compile jobs in this pool: no more than cores and memory allow. Once, however
# often the package is read (a second ncclkit_compile= entry is an error to Ninja's generator).
ncclkit_build_jobs(_ncclkit_jobs)
get_property(_ncclkit_pools GLOBAL PROPERTY JOB_POOLS)
list(FILTER _ncclkit_pools EXCLUDE REGEX "^ncclkit_compile=")
set_property(GLOBAL PROPERTY JOB_POOLS ${_ncclkit_pools} ncclkit_compile=${_ncclkit_jobs})
