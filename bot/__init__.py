"""Linli (邻里): the residents' assistant of a neighbourhood committee."""

__version__ = "0.1.0"
