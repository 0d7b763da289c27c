"""Package data: vocab tables (OpenAI Noncommercial Use License, see vocab/LICENSE), icons and the
bundled ``jukestudio-tiny`` model (``models/``)."""
