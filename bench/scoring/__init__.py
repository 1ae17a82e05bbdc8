"""Scoring: deterministic checks, rubric verdicts, aggregates and statistics."""
