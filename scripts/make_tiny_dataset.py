"""Rebuild the data set ``jukestudio-tiny`` was trained on (see ``jukestudio/train/synthetic.py``).

    python scripts/make_tiny_dataset.py OUT_DIR [--clips-per-pair 24] [--seconds 8] [--seed 1913]
"""

from jukestudio.train.synthetic import main

if __name__ == "__main__":
    main()
