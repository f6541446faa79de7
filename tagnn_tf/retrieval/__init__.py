"""Retrieval below the models: k-means item clusters and the cluster-probing top-K."""
