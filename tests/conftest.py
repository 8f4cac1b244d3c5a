"""Shared test configuration for the whole suite."""
