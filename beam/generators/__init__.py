"""Generators: who writes code. ``llm`` (OpenAI-compatible endpoint) and ``composer`` (offline)."""
from beam.generators.base import GenerationError, Generator, GeneratorContext

__all__ = ["GenerationError", "Generator", "GeneratorContext"]
