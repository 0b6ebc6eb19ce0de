"""`python -m lib.precompute` and the `embedscope-precompute` script; see lib.batch.precompute."""

import sys

from lib.batch.precompute import main

if __name__ == "__main__":
    sys.exit(main())
