"""Tests of the notebook runner (llm_path.notebooks), one module per module."""
