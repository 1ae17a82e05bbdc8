"""bench: a git-native decision test that tells a team whether an AI model is ready for its workflow."""

__version__ = "0.1.0"
