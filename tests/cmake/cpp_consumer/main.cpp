// Prints the NCCL the executable loaded and the header it was built against, as
// "<ncclGetVersion> <NCCLKIT_NCCL_VERSION_CODE> <NCCLKIT_NCCL_FLOOR_CODE> <NCCLKIT_HAS_COMM_SPLIT>".
#include <cstdio>

#include <nccl.h>
#include <ncclkit/config.h>

int main() {
  int version = 0;
  if (ncclGetVersion(&version) != ncclSuccess) {
    std::fprintf(stderr, "ncclGetVersion failed\n");
    return 1;
  }
  std::printf("%d %d %d %d\n", version, NCCLKIT_NCCL_VERSION_CODE, NCCLKIT_NCCL_FLOOR_CODE, NCCLKIT_HAS_COMM_SPLIT);
  return 0;
}
