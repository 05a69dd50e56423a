"""Stages chained in-process: the quickstart pipeline over the sample knowledge base, and the general
grounding stage over the public sources (`general.py`).

A pipeline imports the stages it runs; `platform` (the API and job workers) and the CLI sit above it.
"""
