"""emotui: facial-expression recognition from MediaPipe face landmarks, in the terminal."""

__version__ = "0.1.0"
