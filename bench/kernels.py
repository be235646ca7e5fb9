"""`ncclkit bench kernels` as a script: `python bench/kernels.py [--dtype bfloat16] [--graphs] [--out FILE]`.
The benchmark is python/ncclkit/bench/kernels.py."""

import sys

from ncclkit.bench.kernels import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
