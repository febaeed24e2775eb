"""The worked examples of the docs, as a third party writes them; tests check that the
docs show these files verbatim."""
