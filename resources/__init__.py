"""Package data: vocab tables (OpenAI Noncommercial Use License, see vocab/LICENSE) and icons."""
