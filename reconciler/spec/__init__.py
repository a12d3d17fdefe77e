"""Spec layer: the YAML spec language, loaded safely with source positions, validated by pydantic models
per kind and by cross-document rules. Reads files; never prints.
"""
