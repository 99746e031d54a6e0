"""What `dataops init` and `dataops demo` start from, shipped inside the package.

The synthetic sample CSV and the commented config template are package data (read through
importlib.resources, so an installed wheel needs no clone); `proposals` reads a user's CSV
with the handler's reader and proposes [pipeline] settings; `project` writes a project folder.
"""
