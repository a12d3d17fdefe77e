"""Pydantic models, one module per kind. They check structure, types and single-field ranges (and so
feed the JSON Schemas editors use); rules that relate fields or documents live in ``spec.rules``.
"""
