"""The curriculum as data: the models, the text policy, and the loader that turns YAML into them with located problems."""
