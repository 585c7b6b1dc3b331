"""llm-path: a learning path from linear algebra to large language models, built from YAML."""

__version__ = "0.1.0"
