"""Campaigns: one TOML file runs the whole study on Parsl, resumably, and writes a report.

campaign (schema) -> dag (tasks with content-addressed keys) -> tasks (Parsl apps around a
worker process per task) -> store (done markers, locks) -> status / report.
"""
