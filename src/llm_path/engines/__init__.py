"""Adapters that hand what `build` makes to a static-site engine (MkDocs and ProperDocs today)."""
