"""Batch jobs that run as their own processes (``python -m jobs.<name>``), in the job image."""
