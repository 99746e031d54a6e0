"""Deploying: the stack walk, one module per resource kind, the documents they put (policies, dashboard), packaging."""
