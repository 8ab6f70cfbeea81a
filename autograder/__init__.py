"""Instructor tooling for the QKV self-attention course: building the student notebooks and grading."""
