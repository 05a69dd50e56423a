"""Dependency-light shared pieces: errors, workspace settings, ids and the data contracts (schemas).

Nothing here imports torch, transformers or any other stage of groundtune.
"""
