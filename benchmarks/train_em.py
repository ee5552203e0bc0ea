"""Training throughput of the EM bundle against plain PyTorch/MONAI loops (``train.py --bundle em``).

.venv/bin/python benchmarks/train_em.py --samples 20
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.train import main

if __name__ == "__main__":
    main(["--bundle", "em", *sys.argv[1:]])
