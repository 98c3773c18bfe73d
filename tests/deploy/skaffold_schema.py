"""Validate each config of Skaffold files (one or more configs each) against a JSON schema.

    python -m tests.deploy.skaffold_schema SCHEMA.json skaffold.yaml [skaffold-db.yaml ...]

`make check-k8s` runs this on skaffold.yaml (the app) and skaffold-db.yaml
(the database): check-jsonschema reads one YAML document per file, while a
Skaffold file may hold several configs. Exit status 1 and one line per error
(file, config, path, message) if any config is invalid.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import yaml


def schema_errors(schema_path: Path, skaffold_path: Path) -> list[str]:
    """Return 'config NAME: path: message' for every schema error of every document."""
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    errors = []
    with open(skaffold_path, encoding="utf-8") as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    if not documents:
        return [f"{skaffold_path}: no config"]
    for index, document in enumerate(documents):
        name = (document.get("metadata") or {}).get("name", f"#{index}") if isinstance(document, dict) else f"#{index}"
        for error in validator.iter_errors(document):
            # The schema is a oneOf/anyOf of object shapes: report the
            # deepest, most relevant error inside it rather than "<root>".
            error = jsonschema.exceptions.best_match([error])
            where = "/".join(map(str, error.absolute_path)) or "<root>"
            errors.append(f"config {name}: {where}: {error.message[:300]}")
    return errors


def main(argv: list[str] | None = None) -> int:
    """Print the errors and return the exit status."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    schema_path, *skaffold_paths = map(Path, args)
    for path in (schema_path, *skaffold_paths):
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
    failed = False
    for skaffold_path in skaffold_paths:
        errors = schema_errors(schema_path, skaffold_path)
        for error in errors:
            print(f"{skaffold_path}: {error}", file=sys.stderr)
        if not errors:
            print(f"{skaffold_path}: every config is valid against {schema_path.name}")
        failed = failed or bool(errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
