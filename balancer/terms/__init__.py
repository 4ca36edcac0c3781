"""One module per objective term; each returns its term in minutes-equivalent, weights applied."""
