"""The canonical report (model.py) and the writers that render it."""
