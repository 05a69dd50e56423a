"""One module per REST resource, each with its sync class and its async twin."""
