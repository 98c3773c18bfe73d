"""The database's two roles: the owner (migrations, the precompute job, the loader) and the data-only app role (web, worker)."""
