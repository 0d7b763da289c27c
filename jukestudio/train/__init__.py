"""Training Jukebox models from a folder of labelled audio (Qt-free): the VQ-VAE with the original's
losses and EMA codebooks, then each prior on the VQ-VAE's codes; resumable, atomic, with loss curves.
Entry points: ``pipeline`` (run folders, ``install``) and ``jukestudio-cli train`` (``cli/train.py``).
"""
