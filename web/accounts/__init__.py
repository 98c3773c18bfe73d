"""Who may do what: named permissions, the operators' and services' groups, and hashed API tokens.

Shared by the recommender and progress apps (neither imports the other), so
it sits below both, with the web's shared modules (``.importlinter``).
"""
