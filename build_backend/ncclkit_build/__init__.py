"""ncclkit's build backend (``ncclkit_build.backend``) and the logic it shares with ci/: which
nvcc or hipconfig, the wheel's version label or index-bound name, the finished wheel."""
