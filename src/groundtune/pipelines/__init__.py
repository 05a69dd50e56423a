"""Stages chained in-process: the quickstart pipeline over the sample knowledge base.

A pipeline imports the stages it runs; `platform` (the API and job workers) and the CLI sit above it.
"""
