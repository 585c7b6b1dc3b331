"""From validated models to the site's source: pages, prose and maths, glossary tips, the path diagram, notebook pages."""
