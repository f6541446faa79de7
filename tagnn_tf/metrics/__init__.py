"""Ranking metrics (HR@K, MRR@K, repeat / new subsets), below the trainer and the baselines."""
