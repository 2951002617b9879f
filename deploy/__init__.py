"""Deployment helpers: configuration for running the dashboard behind a reverse proxy."""
