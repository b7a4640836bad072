"""Rows that model tests add (one per model); conftest prints them at the end."""

MODEL_TABLE: list[dict] = []
