"""Tools for contributors: adding a resource to a topic without disturbing the file."""
