"""No models. The module exists because Django sends ``post_migrate`` only for apps that have one (web.dbroles.apps)."""
