"""Runs the stages together: the quickstart pipeline over the sample knowledge base."""
